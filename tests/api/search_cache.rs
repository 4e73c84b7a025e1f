//! Search results kept on each node: a change to what search looks at
//! (a name, a product taken off sale) reaches every node's kept results,
//! stock changes show on them without dropping them, a burst of one search
//! reads the database once, the number kept stays within its cap, and a
//! node that lost its listener reads searches from the database.
//! Observed through each node's `storefront_catalog_search_cache_total`.

use std::time::{Duration, Instant};

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;
use reqwest::StatusCode;
use storefront::catalog::cache::SEARCHES_CAP;
use storefront::catalog::search::CARDS_BUDGET;

use crate::browse::slugs;
use crate::catalog::catalog_changes_noted;
use crate::helpers::{TestApp, spawn_app, spawn_with_vars, texts};

/// A node's search cache figures from its metrics listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    hits: u64,
    misses: u64,
    entries: u64,
    cards_bytes: u64,
}

async fn counts(app: &TestApp) -> Counts {
    let value = |name: &'static str| async move {
        app.metric(name)
            .await
            .unwrap_or_else(|| panic!("{name} in the metrics")) as u64
    };
    Counts {
        hits: value("storefront_catalog_search_cache_total{outcome=\"hit\"}").await,
        misses: value("storefront_catalog_search_cache_total{outcome=\"miss\"}").await,
        entries: value("storefront_catalog_search_cache_entries").await,
        cards_bytes: value("storefront_catalog_search_cards_bytes").await,
    }
}

async fn search_page(app: &TestApp, q: &str) -> String {
    let response = app
        .client
        .get(app.url("/search"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{q}");
    response.text().await.unwrap()
}

async fn search(app: &TestApp, q: &str) -> Vec<String> {
    slugs(&search_page(app, q).await)
}

/// Searches `q` until the node answers it from what it kept (its catalog
/// listener has connected, and the search was kept).
async fn kept(app: &TestApp, q: &str) {
    app.eventually(&format!("the node keeps the search {q:?}"), || async {
        let before = counts(app).await;
        search(app, q).await;
        counts(app).await.hits > before.hits
    })
    .await;
}

#[tokio::test]
async fn a_renamed_product_is_found_by_its_new_name_on_a_node_that_kept_the_old_results() {
    let a = spawn_app().await;
    let b = spawn_with_vars(vec![(
        "DATABASE_URL".to_owned(),
        a.db_url.expose().to_owned(),
    )])
    .await;
    for node in [&a, &b] {
        kept(node, "aurora").await;
        kept(node, "nebula").await;
        assert_eq!(search(node, "aurora").await, ["aurora-ceramic-mug"]);
        assert!(search(node, "nebula").await.is_empty());
    }

    // Renamed through node A's database connection (an admin, another node).
    a.db()
        .await
        .batch_execute(
            "UPDATE products SET name = 'Nebula Ceramic Mug' WHERE slug = 'aurora-ceramic-mug'",
        )
        .await
        .unwrap();
    let renamed = Instant::now();

    for node in [&b, &a] {
        node.eventually("the new name is found", || async {
            search(node, "nebula").await == ["aurora-ceramic-mug"]
        })
        .await;
        assert!(search(node, "aurora").await.is_empty(), "not the old name");
    }
    eprintln!(
        "both nodes found the renamed product {:?} after the rename",
        renamed.elapsed()
    );
    let page = search_page(&b, "nebula mug").await;
    assert_eq!(texts(&page, ".product-name"), ["Nebula Ceramic Mug"]);
}

#[tokio::test]
async fn a_node_that_lost_its_listener_reads_searches_from_the_database() {
    let app = spawn_app().await;
    kept(&app, "aurora").await;
    let listener: i32 = diesel_async::RunQueryDsl::get_result(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "(SELECT pid FROM pg_stat_activity \
              WHERE datname = current_database() AND query = 'LISTEN catalog_changed')",
        )),
        &mut app.db().await,
    )
    .await
    .unwrap();

    // The rename's notification goes nowhere: the listener is gone.
    let mut db = app.db().await;
    db.batch_execute(&format!("SELECT pg_terminate_backend({listener})"))
        .await
        .unwrap();
    db.batch_execute(
        "UPDATE products SET name = 'Nebula Ceramic Mug' WHERE slug = 'aurora-ceramic-mug'",
    )
    .await
    .unwrap();

    app.eventually("the new name is found", || async {
        search(&app, "nebula").await == ["aurora-ceramic-mug"]
    })
    .await;
    assert!(search(&app, "aurora").await.is_empty());
    // Listening again, the node keeps searches again.
    kept(&app, "nebula").await;
    assert!(search(&app, "aurora").await.is_empty());
}

#[tokio::test]
async fn a_product_taken_off_sale_drops_out_of_kept_results() {
    let app = spawn_app().await;
    // More than a page of mugs.
    app.db()
        .await
        .batch_execute(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path) \
             SELECT 'speckled-mug-' || n, 'Speckled Mug ' || n, 'A mug.', 1800, 'USD', \
                    'img/products/aurora-ceramic-mug.svg' FROM generate_series(1, 30) AS n",
        )
        .await
        .unwrap();
    kept(&app, "mug").await;
    let first_page = search(&app, "mug").await;
    assert_eq!(first_page.len(), 24);
    assert_eq!(first_page[0], "speckled-mug-30", "newest first");

    app.db()
        .await
        .batch_execute("UPDATE products SET active = false WHERE slug = 'speckled-mug-30'")
        .await
        .unwrap();

    // The page is read again: a full page without it, the next mug moved up.
    app.eventually("the page no longer shows the archived mug", || async {
        search(&app, "mug").await
            == first_page[1..]
                .iter()
                .cloned()
                .chain(["speckled-mug-6".to_owned()])
                .collect::<Vec<_>>()
    })
    .await;
}

#[tokio::test]
async fn stock_changes_show_on_kept_results_without_dropping_them() {
    let app = spawn_app().await;
    let bottle = |page: String| {
        texts(&page, ".product-card")
            .into_iter()
            .find(|card| card.contains("Trail Water Bottle"))
            .unwrap()
    };
    kept(&app, "bottle").await;
    assert!(bottle(search_page(&app, "bottle").await).contains("Only 3 left"));
    let before = counts(&app).await;
    let noted = catalog_changes_noted(&app).await;

    // Checkouts elsewhere: stock commits, one at a time, on the bottle and
    // on other products.
    let mut db = app.db().await;
    for slug in [
        "aurora-ceramic-mug",
        "merino-wool-beanie",
        "walnut-desk-organizer",
        "trail-water-bottle",
        "aurora-ceramic-mug",
    ] {
        db.batch_execute(&format!(
            "UPDATE products SET stock = stock - 1 WHERE slug = '{slug}'"
        ))
        .await
        .unwrap();
    }
    db.batch_execute("UPDATE products SET stock = 1 WHERE slug = 'trail-water-bottle'")
        .await
        .unwrap();

    // The node may read the last stock while applying an earlier
    // notification: the page then shows it before the node is told.
    app.eventually("the node is told of the six changes", || async {
        catalog_changes_noted(&app).await >= noted + 6
    })
    .await;
    app.eventually("the kept result shows the new stock", || async {
        bottle(search_page(&app, "bottle").await).contains("Only 1 left")
    })
    .await;
    let after = counts(&app).await;
    assert_eq!(after.misses, before.misses, "no search read again");
    assert!(after.hits > before.hits);

    // Kept results need no query: a transaction holding every lock on
    // products does not hold them up.
    db.batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let page = tokio::time::timeout(Duration::from_secs(5), search_page(&app, "bottle"))
        .await
        .expect("the kept search waited for the lock on products");
    assert!(bottle(page).contains("Only 1 left"));
    db.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn a_burst_of_one_search_reads_the_database_once() {
    let app = spawn_app().await;
    kept(&app, "mug").await;
    let before = counts(&app).await;

    let pages: Vec<Vec<String>> = futures_util::stream::iter(0..16)
        .map(|_| search(&app, "canvas tote"))
        .buffer_unordered(16)
        .collect()
        .await;

    assert!(pages.iter().all(|found| found == &["canvas-tote-bag"]));
    let after = counts(&app).await;
    assert_eq!(after.misses, before.misses + 1, "one query");
    assert_eq!(after.hits, before.hits + 15, "the others waited for it");
}

#[tokio::test]
async fn the_searches_kept_stay_within_their_cap() {
    let app = spawn_app().await;
    kept(&app, "q0").await;
    let before = counts(&app).await;

    // As many more distinct searches as the cap: the least recently used,
    // the first, goes.
    futures_util::stream::iter(1..=SEARCHES_CAP)
        .map(|n| {
            let app = &app;
            async move { search(app, &format!("q{n}")).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;

    let after = counts(&app).await;
    assert_eq!(after.misses, before.misses + SEARCHES_CAP as u64);
    assert!(
        after.entries <= SEARCHES_CAP as u64 && after.entries > SEARCHES_CAP as u64 / 2,
        "{after:?}"
    );
    // Their pages' cards (each an empty grid here) within their budget.
    assert!(
        after.cards_bytes > 0 && after.cards_bytes <= CARDS_BUDGET as u64,
        "{after:?}"
    );
    search(&app, "q0").await;
    assert_eq!(
        counts(&app).await.misses,
        after.misses + 1,
        "q0 was dropped"
    );
}
