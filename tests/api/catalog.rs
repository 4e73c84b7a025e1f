use reqwest::StatusCode;

use crate::helpers::{spawn_app, texts};

#[tokio::test]
async fn catalog_lists_the_active_seed_products_with_prices_and_stock() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/").await;

    assert_eq!(status, StatusCode::OK);
    let names = texts(&page, ".product-card .product-name");
    assert_eq!(names.len(), 11, "{names:?}");
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
    let css = app.get("/static/css/app.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let (_, page) = app.get_page("/").await;
    let html = scraper::Html::parse_document(&page);
    let images = scraper::Selector::parse(".product-card img").unwrap();
    let sources: Vec<_> = html
        .select(&images)
        .filter_map(|img| img.value().attr("src"))
        .collect();
    assert_eq!(sources.len(), 11);
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
    use diesel_async::SimpleAsyncConnection;
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
