//! The catalog at scale in a browser: collection pages, paginated listings
//! and search, screenshotted and audited, and browsed with JavaScript off.

use crate::driver::{JavaScript, with_browser};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Owner, assert_no_blocking, capture};

async fn generate(app: &TestApp, count: u64) {
    storefront::catalog::generate::generate(&mut app.db().await, count)
        .await
        .unwrap();
}

#[tokio::test]
async fn catalog_pages_are_screenshotted_and_pass_axe() {
    let app = spawn_app().await;
    generate(&app, 100).await;
    with_browser("catalog-pages", JavaScript::On, async |b| {
        let mut blocking = Vec::new();

        b.goto(&app.url("/")).await;
        assert_eq!(b.find_all(".product-card").await.len(), 24);
        b.click_link("Kitchen").await;
        b.wait_for_path("/collections/kitchen").await;
        assert_eq!(b.text("h1").await, "Kitchen");
        blocking.extend(capture(b, "collection", Owner::Us).await);

        b.click_link("Next page →").await;
        b.wait_for_url("the next page", |url| url.query().is_some_and(|q| q.contains("after=")))
            .await;
        blocking.extend(capture(b, "collection-page-2", Owner::Us).await);

        // A typo, from the search box in the header.
        b.fill("#site-search-q", "ceramc mugg").await;
        b.click_button("Search").await;
        b.wait_for_path("/search").await;
        assert_eq!(b.text(".search-note").await, "Also showing results for “ceramic”, “mug”.");
        let first: String = b.text(".product-card .product-name").await;
        assert!(first.contains("Mug"), "{first}");
        blocking.extend(capture(b, "search", Owner::Us).await);

        b.goto(&app.url("/search?q=zzqqxx")).await;
        assert!(b.page_text().await.contains("No products match “zzqqxx”."));
        blocking.extend(capture(b, "search-empty", Owner::Us).await);

        // The product's schema.org data is JSON the browser reads, and
        // (being data, not script) is not blocked by the CSP.
        b.goto(&app.url("/products/aurora-ceramic-mug")).await;
        let price: String = b
            .eval(
                "return JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent).offers.price;",
            )
            .await;
        assert_eq!(price, "24.00");

        assert_no_blocking(&blocking);
    })
    .await;
}

#[tokio::test]
async fn listings_sort_page_and_search_without_javascript() {
    let app = spawn_app().await;
    generate(&app, 30).await;
    with_browser("catalog-no-js", JavaScript::Off, async |b| {
        assert!(!b.scripts_run().await);
        b.goto(&app.url("/")).await;
        let first_page = b.texts(".product-card .product-name").await;
        assert_eq!(first_page.len(), 24);

        b.click_link("Next page →").await;
        b.wait_for_url("the next page", |url| {
            url.query().is_some_and(|q| q.contains("after="))
        })
        .await;
        assert_eq!(b.find_all(".product-card").await.len(), 42 - 24);
        b.click_link("← Previous page").await;
        b.wait_for_url("the page before", |url| {
            url.query().is_some_and(|q| q.contains("before="))
        })
        .await;
        assert_eq!(b.texts(".product-card .product-name").await, first_page);

        b.click_link("Price: low to high").await;
        b.wait_for_url("sorted", |url| url.query() == Some("sort=price-asc"))
            .await;
        let prices: Vec<i64> = b
            .texts(".product-card .price")
            .await
            .iter()
            .map(|p| p.replace(['$', ',', '.'], "").parse().unwrap())
            .collect();
        assert!(prices.is_sorted(), "{prices:?}");

        b.fill("#site-search-q", "linen").await;
        b.click_button("Search").await;
        b.wait_for_path("/search").await;
        assert!(
            b.texts(".product-card .product-name")
                .await
                .iter()
                .any(|n| n == "Linen Throw Blanket")
        );
    })
    .await;
}
