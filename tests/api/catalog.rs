//! The catalog's pages, served from memory and refreshed by PostgreSQL's
//! notifications.

use std::time::Duration;

use diesel::dsl::sql;
use diesel::sql_types::{Bool, Integer, Nullable};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, texts};

#[tokio::test]
async fn catalog_lists_the_active_seed_products_with_prices_and_stock() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/").await;

    assert_eq!(status, StatusCode::OK);
    let names = texts(&page, ".product-card .product-name");
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.contains(&"Aurora Ceramic Mug".to_owned()));
    assert!(
        !names.contains(&"Enamel Camp Pin".to_owned()),
        "inactive products are hidden"
    );
    let cards = texts(&page, ".product-card");
    assert!(cards.iter().any(|c| c.contains("Aurora Ceramic Mug")
        && c.contains("$24.00")
        && c.contains("In stock")));
    assert!(
        cards
            .iter()
            .any(|c| c.contains("Trail Water Bottle") && c.contains("Only 3 left"))
    );
    assert!(
        cards
            .iter()
            .any(|c| c.contains("Scented Soy Candle") && c.contains("Sold out"))
    );
    assert!(
        cards
            .iter()
            .any(|c| c.contains("Linen Throw Blanket") && c.contains("$119.00"))
    );
}

#[tokio::test]
async fn product_page_shows_details_and_an_add_to_cart_form() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/products/field-notes-journal").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Field Notes Journal"]);
    assert_eq!(texts(&page, ".price-large"), ["$14.50"]);
    assert!(page.contains("96 dot-grid pages"));
    assert_eq!(
        texts(&page, "form.buy-form button"),
        ["Add to cart", "Buy now"]
    );
    assert!(page.contains(r#"<label for="quantity">Quantity</label>"#));
}

#[tokio::test]
async fn sold_out_product_page_offers_no_add_to_cart() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/products/scented-soy-candle").await;

    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("This product is sold out"));
    assert!(texts(&page, "form.buy-form").is_empty());
}

#[tokio::test]
async fn unknown_and_inactive_products_get_a_friendly_404_page() {
    let app = spawn_app().await;

    for path in [
        "/products/no-such-thing",
        "/products/enamel-camp-pin",
        "/products/%00",
    ] {
        let (status, page) = app.get_page(path).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let text = texts(&page, ".error-page").join(" ");
        assert!(
            text.contains("doesn't exist or is no longer available"),
            "{path}: {text}"
        );
        assert!(text.contains("Continue shopping"), "{path}");
    }
}

#[tokio::test]
async fn unknown_routes_get_the_404_page() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/no/such/page").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(texts(&page, ".error-page")[0].contains("We couldn't find the page"));
}

#[tokio::test]
async fn stylesheet_and_every_product_image_are_served() {
    let app = spawn_app().await;
    let (_, page) = app.get_page("/").await;
    let html = scraper::Html::parse_document(&page);
    let link = scraper::Selector::parse("link[rel=stylesheet]").unwrap();
    let stylesheet = html
        .select(&link)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap();
    let version = stylesheet.strip_prefix("/static/css/app.css?v=").unwrap();
    assert_eq!(version.len(), 16, "{stylesheet}");

    // Its version is its content's: kept for good. Any other URL of it: an hour.
    let css = app.get(stylesheet).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let on_disk =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/css/app.css")).unwrap();
    assert_eq!(css.bytes().await.unwrap(), on_disk);
    for other in [
        "/static/css/app.css",
        "/static/css/app.css?v=0123456789abcdef",
    ] {
        let css = app.get(other).await;
        assert_eq!(css.status(), StatusCode::OK, "{other}");
        assert_eq!(
            css.headers()["cache-control"],
            "public, max-age=3600",
            "{other}"
        );
    }

    let images = scraper::Selector::parse(".product-card img").unwrap();
    let sources: Vec<_> = html
        .select(&images)
        .filter_map(|img| img.value().attr("src"))
        .collect();
    assert_eq!(sources.len(), 12);
    for src in sources {
        let response = app.get(src).await;
        assert_eq!(response.status(), StatusCode::OK, "{src}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml", "{src}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;

    for path in ["/", "/cart", "/missing"] {
        let response = app.get(path).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 32, "{path}");
    }
}

#[tokio::test]
async fn a_server_error_shows_a_friendly_page_without_internals() {
    let app = spawn_app().await;
    // Sabotage the database under the running app.
    app.db()
        .await
        .batch_execute("ALTER TABLE products RENAME TO products_sabotaged")
        .await
        .unwrap();

    let response = app.get("/").await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    let text = texts(&page, ".error-page").join(" ");
    assert!(text.contains("Something went wrong on our side"), "{text}");
    assert!(
        text.contains(&request_id),
        "the page quotes the request id: {text}"
    );
    assert!(
        !page.contains("products") && !page.contains("relation"),
        "no internals: {page}"
    );
}

/// The backend pid of the app's catalog listener (its `LISTEN` connection), if connected.
async fn catalog_listener(app: &TestApp) -> Option<i32> {
    diesel::select(sql::<Nullable<Integer>>(
        "(SELECT pid FROM pg_stat_activity \
          WHERE datname = current_database() AND query = 'LISTEN catalog_changed' LIMIT 1)",
    ))
    .get_result(&mut app.db().await)
    .await
    .unwrap()
}

/// Waits until the node's catalog listener is connected: from then on its
/// catalog pages are kept in memory.
async fn catalog_listening(app: &TestApp) {
    app.eventually("the catalog listener connects", || async {
        app.metric("storefront_catalog_listening ").await == Some(1.0)
    })
    .await;
}

/// Catalog changes the node was told of since it started.
pub async fn catalog_changes_noted(app: &TestApp) -> u64 {
    app.metric("storefront_catalog_changes_total ")
        .await
        .expect("storefront_catalog_changes_total in the metrics") as u64
}

/// Waits for the listener, then loads the in-memory copy with one page.
async fn warm_catalog(app: &TestApp) -> i32 {
    app.eventually("the catalog listener connects", || async {
        catalog_listener(app).await.is_some()
    })
    .await;
    let pid = catalog_listener(app).await;
    catalog_listening(app).await;
    assert_eq!(app.get_page("/").await.0, StatusCode::OK);
    pid.unwrap()
}

/// Pages render from memory: another transaction holding an exclusive lock
/// on `products` (which any query on it would wait for) does not hold them up.
async fn assert_pages_need_no_query(app: &TestApp) {
    let mut locker = app.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for path in ["/", "/products/aurora-ceramic-mug"] {
        let (status, page) = tokio::time::timeout(Duration::from_secs(5), app.get_page(path))
            .await
            .unwrap_or_else(|_| panic!("{path} waited for the lock on products"));
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains("Aurora Ceramic Mug"), "{path}");
    }
    locker.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn catalog_and_product_pages_are_served_from_memory() {
    let app = spawn_app().await;
    warm_catalog(&app).await;
    app.add_to_cart("aurora-ceramic-mug", "2").await;
    app.get_page("/cart").await; // where the add redirects: it counts the cart

    assert_pages_need_no_query(&app).await;
    let (_, page) = app.get_page("/").await;
    assert_eq!(texts(&page, ".cart-count"), ["2"], "the session's count");
}

#[tokio::test]
async fn a_change_to_products_reaches_the_pages_without_a_restart() {
    let app = spawn_app().await;
    warm_catalog(&app).await;
    let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
    assert_eq!(texts(&page, ".price-large"), ["$24.00"]);

    // Another node, or an admin: a new price, stock, and a product taken off sale.
    app.db()
        .await
        .batch_execute(
            "UPDATE products SET price_minor = 2650, stock = 2 WHERE slug = 'aurora-ceramic-mug'; \
             UPDATE products SET active = false WHERE slug = 'field-notes-journal'",
        )
        .await
        .unwrap();

    app.eventually("the new price and stock are shown", || async {
        let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
        texts(&page, ".price-large") == ["$26.50"] && texts(&page, ".badge") == ["Only 2 left"]
    })
    .await;
    assert_eq!(
        app.get_page("/products/field-notes-journal").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, page) = app.get_page("/").await;
    assert!(!texts(&page, ".product-name").contains(&"Field Notes Journal".to_owned()));
}

#[tokio::test]
async fn the_catalog_listener_reconnects_after_losing_its_connection() {
    let app = spawn_app().await;
    let first = warm_catalog(&app).await;

    let mut db = app.db().await;
    let killed_at = std::time::Instant::now();
    diesel::select(sql::<Bool>(&format!("pg_terminate_backend({first})")))
        .get_result::<bool>(&mut db)
        .await
        .unwrap();
    db.batch_execute("UPDATE products SET price_minor = 2700 WHERE slug = 'aurora-ceramic-mug'")
        .await
        .unwrap();

    // Disconnected, pages read the database; reconnected, memory again.
    app.eventually("the new price is shown", || async {
        let (_, page) = app.get_page("/products/aurora-ceramic-mug").await;
        texts(&page, ".price-large") == ["$27.00"]
    })
    .await;
    app.eventually("a new listener connects", || async {
        catalog_listener(&app).await.is_some_and(|pid| pid != first)
    })
    .await;
    eprintln!(
        "catalog listener reconnected {:?} after its connection was killed",
        killed_at.elapsed()
    );
    warm_catalog(&app).await;
    assert_pages_need_no_query(&app).await;
}

#[tokio::test]
async fn a_product_in_a_currency_we_cannot_charge_is_refused_by_the_database() {
    let app = spawn_app().await;
    let insert = |currency: &str| {
        format!(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path) \
             VALUES ('cup-{}', 'Cup', 'A cup.', 1200, '{currency}', 'img/products/aurora-ceramic-mug.svg')",
            currency.to_lowercase()
        )
    };

    let refused = app.db().await.batch_execute(&insert("CHF")).await;
    assert!(refused.is_err(), "CHF is not a currency we can charge");
    app.db().await.batch_execute(&insert("JPY")).await.unwrap();

    let (status, page) = app.get_page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("¥1,200"), "the catalog still loads");
}
