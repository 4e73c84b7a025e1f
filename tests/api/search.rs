//! Search: full-text matches ranked name before description, prefix
//! matching of the word being typed, typo tolerance through the words of
//! product names, pagination, suggestions when nothing matches, and the
//! bad-input corpus.

use std::collections::HashSet;

use diesel_async::SimpleAsyncConnection;
use reqwest::StatusCode;

use crate::browse::{attrs, generate_products, slugs};
use crate::helpers::{TestApp, spawn_app, texts};

async fn search(app: &TestApp, q: &str) -> Vec<String> {
    let response = app
        .client
        .get(app.url("/search"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{q}");
    slugs(&response.text().await.unwrap())
}

#[tokio::test]
async fn a_match_in_the_name_ranks_above_one_in_the_description() {
    let app = spawn_app().await;
    // The description-only match is the newer one: rank, not age, puts the
    // name first.
    app.db()
        .await
        .batch_execute(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path) VALUES \
             ('dusk-lantern', 'Dusk Lantern', 'A warm light for long evenings.', 4900, 'USD', 'img/products/scented-soy-candle.svg'); \
             INSERT INTO products (slug, name, description, price_minor, currency, image_path) VALUES \
             ('oil-lamp', 'Oil Lamp', 'Brighter than any lantern we have sold.', 3900, 'USD', 'img/products/scented-soy-candle.svg')",
        )
        .await
        .unwrap();

    assert_eq!(search(&app, "lantern").await, ["dusk-lantern", "oil-lamp"]);
    assert_eq!(search(&app, "LANTERN!").await, ["dusk-lantern", "oil-lamp"]);
    assert_eq!(search(&app, "lamp").await, ["oil-lamp"]);
    // Every word must match.
    assert_eq!(search(&app, "ceramic lantern").await, Vec::<String>::new());
}

#[tokio::test]
async fn words_being_typed_and_typos_still_find_the_product() {
    let app = spawn_app().await;

    for q in ["mug", "ceramic mug", "auror", "ceram", "Aurora Ceramic Mug"] {
        assert_eq!(search(&app, q).await[0], "aurora-ceramic-mug", "{q}");
    }
    for q in ["mugg", "ceramc mug", "auroa", "Arora Ceramic"] {
        let found = search(&app, q).await;
        assert_eq!(
            found.first().map(String::as_str),
            Some("aurora-ceramic-mug"),
            "{q}: {found:?}"
        );
    }
    let (_, page) = app.get_page("/search?q=mugg").await;
    assert_eq!(
        texts(&page, ".search-note"),
        ["Also showing results for “mug”."]
    );
    assert_eq!(
        search(&app, "walnut desk org").await,
        ["walnut-desk-organizer"]
    );
    assert_eq!(
        search(&app, "dot-grid").await,
        ["field-notes-journal"],
        "description words too"
    );
    assert!(
        search(&app, "enamel camp pin").await.is_empty(),
        "inactive products are never found"
    );
    // Query syntax is only text.
    for q in [
        "mug & !",
        "mug | (",
        "'mug':*",
        "mug\\",
        ":* & | ! ( ) <->",
        "mug <-> ceramic",
        "x² 日本語 ǅ ١٢٣",
        "%_%",
        "a",
    ] {
        let response = app
            .client
            .get(app.url("/search"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{q}");
    }
    assert_eq!(
        search(&app, "(mug) & !ceramic").await[0],
        "aurora-ceramic-mug"
    );
}

#[tokio::test]
async fn results_come_a_page_at_a_time_without_repeats() {
    let app = spawn_app().await;
    // "linen" is a material in some names, and in a phrase of other
    // products' descriptions.
    generate_products(&app, 1000).await;
    let expected: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM products WHERE active AND (name ~* '\\mlinen' OR description ~* '\\mlinen'))",
        )),
        &mut app.db().await,
    )
    .await
    .unwrap();
    assert!(expected > 3 * 24, "{expected} results: several pages");

    let mut seen = Vec::new();
    let mut path = "/search?q=linen".to_owned();
    let mut in_name_done = false;
    let mut pages = 0;
    loop {
        let (status, page) = app.get_page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let names = texts(&page, ".product-card .product-name");
        for name in &names {
            // Name matches first, then description-only ones.
            let in_name = name.to_lowercase().contains("linen");
            if !in_name {
                in_name_done = true;
            } else {
                assert!(
                    !in_name_done,
                    "a name match after a description match: {name}"
                );
            }
        }
        seen.extend(slugs(&page));
        pages += 1;
        match attrs(&page, "a[rel=next]", "href").first() {
            Some(next) => path = next.clone(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no product twice");
    assert_eq!(seen.len() as i64, expected);
    assert!(in_name_done && pages > 3, "both tiers, several pages");
}

#[tokio::test]
async fn an_empty_result_suggests_collections() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/search?q=zzzqqqxx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(texts(&page, ".empty-state")[0].contains("No products match “zzzqqqxx”."));
    assert_eq!(
        texts(&page, ".suggestions a"),
        ["Kitchen", "Desk", "Outdoors", "Home"]
    );
    let (status, page) = app.get_page("/search").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Search"]);
    let (_, page) = app.get_page("/search?q=+++").await;
    assert_eq!(texts(&page, "h1"), ["Search"]);
}

#[tokio::test]
async fn bad_search_input_gets_a_400_page() {
    let app = spawn_app().await;
    let too_long = "a".repeat(101);
    let long_ok = "a".repeat(100);
    let corpus = [
        format!("q={too_long}"),
        format!("q={}", "%C3%A9".repeat(101)),
        "q=mug%00".to_owned(),
        "q=%00".to_owned(),
        "q=%FF%FE".to_owned(),
        "q=mug%E2%82".to_owned(),
        "q=mug&q=cup".to_owned(),
        "q=mug&after=xyz".to_owned(),
        "q=mug&after=AAAAAAAAAAAA".to_owned(),
        format!("q=mug&after={}", "A".repeat(4000)),
        "q=mug&after=%00".to_owned(),
    ];
    for query in &corpus {
        let url = format!("/search?{query}");
        let (status, page) = app.get_page(&url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(
            texts(&page, ".error-page h1"),
            ["Please check your input"],
            "{url}"
        );
    }
    assert_eq!(
        app.get_page(&format!("/search?q={long_ok}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get_page("/search?q=%C3%A9t%C3%A9").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get_page("/search?q=mug%0A%09cup").await.0,
        StatusCode::OK
    );
}
