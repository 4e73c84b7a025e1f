//! Browsing at scale: the front page's collections and first page,
//! keyset pagination that never skips or repeats a product while the
//! catalog changes between pages, collection pages, bad links, and what
//! search engines read (meta tags, JSON-LD, sitemaps, robots.txt).

use std::collections::HashSet;

use diesel_async::SimpleAsyncConnection;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use storefront::catalog::{generate, store};

use crate::helpers::{TestApp, spawn_app, texts};

/// Adds `count` generated products to the app's database.
pub async fn generate_products(app: &TestApp, count: u64) {
    let added = generate::generate(&mut app.db().await, count)
        .await
        .unwrap();
    assert_eq!(added as u64, count);
}

/// An attribute of every element matching `selector`.
pub fn attrs(page: &str, selector: &str, attr: &str) -> Vec<String> {
    let html = Html::parse_document(page);
    let selector = Selector::parse(selector).unwrap();
    html.select(&selector)
        .filter_map(|e| e.value().attr(attr).map(str::to_owned))
        .collect()
}

/// The product slugs a listing page links to, in order.
pub fn slugs(page: &str) -> Vec<String> {
    attrs(page, ".product-card a", "href")
        .into_iter()
        .map(|href| href.trim_start_matches("/products/").to_owned())
        .collect()
}

#[tokio::test]
async fn the_front_page_shows_collections_and_pages_through_every_product() {
    let app = spawn_app().await;
    generate_products(&app, 60).await;

    let (status, page) = app.get_page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        texts(&page, "nav.collections a"),
        ["Kitchen", "Desk", "Outdoors", "Home"]
    );
    assert_eq!(slugs(&page).len(), 24);
    assert!(attrs(&page, "a[rel=prev]", "href").is_empty());
    assert!(attrs(&page, "link[rel=prev]", "href").is_empty());
    // Newest first: generated product 60 is the newest.
    assert!(slugs(&page)[0].ends_with("-60"), "{:?}", slugs(&page));

    let mut seen = Vec::new();
    let mut path = "/".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = app.get_page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        seen.extend(slugs(&page));
        pages += 1;
        let next = attrs(&page, "a[rel=next]", "href");
        let head_next = attrs(&page, "link[rel=next]", "href");
        assert_eq!(head_next.len(), next.len(), "{path}");
        match next.first() {
            Some(next) => {
                assert!(
                    head_next[0].ends_with(next.as_str()),
                    "absolute in the head"
                );
                path = next.clone();
            }
            None => break,
        }
        if pages > 1 {
            // The way back works too.
            let prev = &attrs(&page, "a[rel=prev]", "href")[0];
            let (status, back) = app.get_page(prev).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(slugs(&back).len(), 24, "{prev}");
        }
    }
    assert_eq!(pages, 3, "72 products: 24 + 24 + 24");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 72);
    assert_eq!(unique.len(), 72, "no product twice");
    assert!(!seen.contains(&"enamel-camp-pin".to_owned()), "inactive");
}

/// Walks a listing a page at a time, calling `between` after each page;
/// returns the slugs seen, in order.
async fn walk(app: &TestApp, first: &str, mut between: impl AsyncFnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    for page_number in 0.. {
        let (status, page) = app.get_page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        seen.extend(slugs(&page));
        between(page_number).await;
        match attrs(&page, "a[rel=next]", "href").first() {
            Some(next) => path = next.clone(),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn pagination_never_skips_or_repeats_while_products_come_and_go() {
    let app = spawn_app().await;
    generate_products(&app, 100).await;

    for sort in ["newest", "price-asc", "price-desc"] {
        let before: HashSet<String> = walk(&app, &format!("/?sort={sort}"), async |_| {})
            .await
            .into_iter()
            .collect();
        let mut archived = Vec::new();
        let seen = walk(&app, &format!("/?sort={sort}"), async |page| {
            // Between pages: a new product at every price, and two taken off
            // sale, the cheapest and the dearest still on sale.
            let mut db = app.db().await;
            db.batch_execute(&format!(
                "INSERT INTO products (slug, name, description, price_minor, currency, image_path) \
                 SELECT 'new-{sort}-{page}-' || p, 'New ' || p, 'New.', p, 'USD', 'img/products/aurora-ceramic-mug.svg' \
                 FROM unnest(ARRAY[100, 2500, 999900]) AS p"
            ))
            .await
            .unwrap();
            let gone: Vec<String> = diesel_async::RunQueryDsl::load(
                diesel::sql_query(
                    "UPDATE products SET active = false WHERE id IN ( \
                       (SELECT id FROM products WHERE active AND slug NOT LIKE 'new-%' ORDER BY price_minor, id LIMIT 1) \
                       UNION (SELECT id FROM products WHERE active AND slug NOT LIKE 'new-%' ORDER BY price_minor DESC, id DESC LIMIT 1)) \
                     RETURNING slug",
                ),
                &mut db,
            )
            .await
            .map(|rows: Vec<Slug>| rows.into_iter().map(|r| r.slug).collect())
            .unwrap();
            archived.extend(gone);
        })
        .await;

        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a product shown twice");
        let stayed: Vec<&String> = before.iter().filter(|s| !archived.contains(s)).collect();
        for slug in &stayed {
            assert!(seen.contains(slug), "{sort}: {slug} was skipped");
        }
        assert!(
            !archived.is_empty() && stayed.len() > 50,
            "{sort}: the test changed things"
        );
        // Put the shop back for the next sort.
        app.db()
            .await
            .batch_execute("UPDATE products SET active = true WHERE slug <> 'enamel-camp-pin'; DELETE FROM products WHERE slug LIKE 'new-%'")
            .await
            .unwrap();
    }
}

#[derive(diesel::QueryableByName)]
struct Slug {
    #[diesel(sql_type = diesel::sql_types::Text)]
    slug: String,
}

#[tokio::test]
async fn collection_pages_list_their_products_by_newest_and_by_price() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/collections/kitchen").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Kitchen"]);
    let mut kitchen = slugs(&page);
    kitchen.sort();
    assert_eq!(
        kitchen,
        [
            "aurora-ceramic-mug",
            "brass-bottle-opener",
            "pour-over-coffee-set"
        ]
    );
    let (_, page) = app.get_page("/collections/kitchen?sort=price-asc").await;
    assert_eq!(
        texts(&page, ".product-card .price"),
        ["$18.00", "$24.00", "$89.00"]
    );
    assert_eq!(
        texts(&page, ".sorts [aria-current]"),
        ["Price: low to high"]
    );
    let (_, page) = app.get_page("/collections/kitchen?sort=price-desc").await;
    assert_eq!(
        texts(&page, ".product-card .price"),
        ["$89.00", "$24.00", "$18.00"]
    );
    // The mug is in several collections.
    for collection in ["desk", "home"] {
        let (_, page) = app.get_page(&format!("/collections/{collection}")).await;
        assert!(slugs(&page).contains(&"aurora-ceramic-mug".to_owned()));
    }
    let (status, page) = app.get_page("/collections/outdoors").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !slugs(&page).contains(&"enamel-camp-pin".to_owned()),
        "inactive"
    );

    for missing in [
        "/collections/garden",
        "/collections/%00",
        "/collections/KITCHEN",
    ] {
        let (status, page) = app.get_page(missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(
            texts(&page, ".error-page")[0].contains("That collection doesn't exist."),
            "{missing}"
        );
    }
}

#[tokio::test]
async fn collection_membership_changes_reach_the_cached_pages() {
    let app = spawn_app().await;
    let (_, page) = app.get_page("/collections/desk").await;
    assert!(!slugs(&page).contains(&"trail-water-bottle".to_owned()));
    let mut db = app.db().await;
    let desk = store::collections(&mut db)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.slug == "desk")
        .unwrap();
    let bottle = store::find_active(
        &mut db,
        &storefront::ids::ProductSlug::parse("trail-water-bottle").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();

    // What the back office will call.
    assert_eq!(
        store::add_to_collection(&mut db, desk.id, &[bottle.id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store::add_to_collection(&mut db, desk.id, &[bottle.id])
            .await
            .unwrap(),
        0
    );
    let names: Vec<String> = store::collections_of(&mut db, bottle.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Desk", "Outdoors"]);
    app.eventually("the bottle is on the desk page", || async {
        slugs(&app.get_page("/collections/desk").await.1).contains(&"trail-water-bottle".to_owned())
    })
    .await;

    assert!(
        store::remove_from_collection(&mut db, desk.id, bottle.id)
            .await
            .unwrap()
    );
    app.eventually("the bottle has left the desk page", || async {
        !slugs(&app.get_page("/collections/desk").await.1)
            .contains(&"trail-water-bottle".to_owned())
    })
    .await;

    let renamed = store::upsert_collection(&mut db, "desk", "Workspace", "For work.", 1)
        .await
        .unwrap();
    assert_eq!(renamed.id, desk.id);
    app.eventually("the new name is shown", || async {
        texts(&app.get_page("/").await.1, "nav.collections a").contains(&"Workspace".to_owned())
    })
    .await;
}

#[tokio::test]
async fn bad_sorts_and_cursors_get_a_400_page_and_change_nothing() {
    let app = spawn_app().await;
    generate_products(&app, 30).await;
    let (_, page) = app.get_page("/").await;
    let next = attrs(&page, "a[rel=next]", "href")[0].clone();
    let cursor = next.split("after=").nth(1).unwrap().to_owned();
    let long = "A".repeat(5000);

    let corpus = [
        "sort=cheapest".to_owned(),
        "sort=%00".to_owned(),
        "sort=%FF".to_owned(),
        "after=garbage".to_owned(),
        "before=%E2%80".to_owned(),
        "after=".to_owned() + &cursor + "A",
        "after=".to_owned() + &cursor[1..],
        format!("after={long}"),
        format!("after={cursor}&before={cursor}"),
        format!("after={cursor}&after={cursor}"),
        // A newest-first cursor is no price cursor.
        format!("sort=price-asc&after={cursor}"),
        "after=AAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "after=%27%3B%20DROP%20TABLE%20products%3B--".to_owned(),
    ];
    for path in ["/", "/collections/kitchen"] {
        for query in &corpus {
            let url = format!("{path}?{query}");
            let (status, page) = app.get_page(&url).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
            assert!(
                texts(&page, ".error-page h1") == ["Please check your input"],
                "{url}: {page}"
            );
        }
    }
    assert_eq!(app.get_page(&next).await.0, StatusCode::OK);
    let (status, page) = app.get_page("/?utm_source=newsletter").await;
    assert_eq!(status, StatusCode::OK, "unknown parameters are ignored");
    assert_eq!(slugs(&page).len(), 24);
}

#[tokio::test]
async fn pages_tell_search_engines_and_previews_what_they_are() {
    let app = spawn_app_with_base("https://shop.example").await;

    let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
    assert_eq!(
        attrs(&page, "link[rel=canonical]", "href"),
        ["https://shop.example/products/aurora-ceramic-mug"]
    );
    assert_eq!(
        attrs(&page, "meta[property='og:title']", "content"),
        ["Aurora Ceramic Mug"]
    );
    assert_eq!(
        attrs(&page, "meta[property='og:type']", "content"),
        ["product"]
    );
    assert_eq!(
        attrs(&page, "meta[property='og:image']", "content"),
        ["https://shop.example/static/img/products/aurora-ceramic-mug.svg"]
    );
    assert!(texts(&page, "title")[0].starts_with("Aurora Ceramic Mug"));
    assert!(attrs(&page, "meta[name=description]", "content")[0].starts_with("A hand-glazed"));
    let json: serde_json::Value =
        serde_json::from_str(&texts(&page, "script[type='application/ld+json']")[0]).unwrap();
    assert_eq!(json["@type"], "Product");
    assert_eq!(json["offers"]["price"], "24.00");
    assert_eq!(json["offers"]["priceCurrency"], "USD");
    assert_eq!(json["offers"]["availability"], "https://schema.org/InStock");
    let (_, page) = app.get_page("/products/scented-soy-candle").await;
    let json: serde_json::Value =
        serde_json::from_str(&texts(&page, "script[type='application/ld+json']")[0]).unwrap();
    assert_eq!(
        json["offers"]["availability"],
        "https://schema.org/OutOfStock"
    );

    // A name that tries to close the script element stays data.
    app.db()
        .await
        .batch_execute("UPDATE products SET name = 'Mug </script><script>alert(1)</script>' WHERE slug = 'aurora-ceramic-mug'")
        .await
        .unwrap();
    app.eventually("the new name is shown", || async {
        let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
        texts(&page, "h1")[0].contains("alert")
    })
    .await;
    let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    let json: serde_json::Value =
        serde_json::from_str(&texts(&page, "script[type='application/ld+json']")[0]).unwrap();
    assert_eq!(json["name"], "Mug </script><script>alert(1)</script>");

    let (_, page) = app.get_page("/collections/home?sort=price-asc").await;
    assert_eq!(
        attrs(&page, "link[rel=canonical]", "href"),
        ["https://shop.example/collections/home?sort=price-asc"]
    );
    assert_eq!(texts(&page, "title"), ["Home · Storefront"]);
    let (_, page) = app.get_page("/search?q=mug").await;
    assert_eq!(
        attrs(&page, "meta[name=robots]", "content"),
        ["noindex, follow"]
    );

    let robots = app.get("/robots.txt").await;
    assert_eq!(robots.status(), StatusCode::OK);
    let robots = robots.text().await.unwrap();
    for line in [
        "Disallow: /cart",
        "Disallow: /checkout",
        "Disallow: /orders",
        "Disallow: /admin",
        "Disallow: /api",
        "Sitemap: https://shop.example/sitemap.xml",
    ] {
        assert!(robots.lines().any(|l| l == line), "{line} in {robots}");
    }

    let sitemap = app.get("/sitemap.xml").await;
    assert_eq!(sitemap.status(), StatusCode::OK);
    assert!(
        sitemap.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let sitemap = sitemap.text().await.unwrap();
    let locs = xml_locs(&sitemap);
    assert!(sitemap.contains("<urlset"));
    assert!(locs.contains(&"https://shop.example/".to_owned()));
    assert!(locs.contains(&"https://shop.example/collections/kitchen".to_owned()));
    assert!(locs.contains(&"https://shop.example/products/trail-water-bottle".to_owned()));
    assert!(
        !locs.iter().any(|l| l.contains("enamel-camp-pin")),
        "inactive"
    );
    assert_eq!(locs.len(), 1 + 4 + 12);
}

/// The `<loc>` values of a sitemap.
fn xml_locs(xml: &str) -> Vec<String> {
    xml.split("<loc>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</loc>").map(|(loc, _)| loc.to_owned()))
        .collect()
}

async fn spawn_app_with_base(base: &str) -> TestApp {
    crate::helpers::spawn_app_with(&[("APP_BASE_URL", base)]).await
}

#[tokio::test]
async fn past_50000_urls_the_sitemap_becomes_an_index() {
    let app = spawn_app().await;
    generate_products(&app, 50_000).await;

    let index = app.get("/sitemap.xml").await.text().await.unwrap();
    assert!(
        index.contains("<sitemapindex"),
        "{}",
        &index[..200.min(index.len())]
    );
    let children = xml_locs(&index);
    assert_eq!(
        children,
        [
            app.url("/sitemaps/pages.xml"),
            app.url("/sitemaps/products-1.xml"),
            app.url("/sitemaps/products-2.xml")
        ]
    );
    let mut products = 0;
    for child in &children[1..] {
        let path = child.strip_prefix(&app.address).unwrap();
        let (status, xml) = app.get_page(path).await;
        assert_eq!(status, StatusCode::OK);
        let locs = xml_locs(&xml);
        assert!(locs.len() <= 50_000);
        products += locs.len();
    }
    assert_eq!(products, 50_000 + 12);
    let (_, pages) = app.get_page("/sitemaps/pages.xml").await;
    assert_eq!(xml_locs(&pages).len(), 5);
    for missing in [
        "/sitemaps/products-3.xml",
        "/sitemaps/products-0.xml",
        "/sitemaps/x.xml",
    ] {
        assert_eq!(
            app.get(missing).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn a_stock_change_shows_on_the_cached_listing_pages() {
    let app = spawn_app().await;
    let bottle = |page: String| {
        texts(&page, ".product-card")
            .into_iter()
            .find(|card| card.contains("Trail Water Bottle"))
            .unwrap()
    };
    for path in ["/", "/collections/outdoors"] {
        assert!(
            bottle(app.get_page(path).await.1).contains("Only 3 left"),
            "{path}"
        );
    }

    app.db()
        .await
        .batch_execute("UPDATE products SET stock = 1 WHERE slug = 'trail-water-bottle'")
        .await
        .unwrap();

    app.eventually("both pages show the new stock", || async {
        let home = bottle(app.get_page("/").await.1);
        let outdoors = bottle(app.get_page("/collections/outdoors").await.1);
        home.contains("Only 1 left") && outdoors.contains("Only 1 left")
    })
    .await;
}
