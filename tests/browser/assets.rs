//! What the browser downloads besides pages: everything from our own
//! origin, cacheable and revalidated.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn static_files_are_self_hosted_cacheable_and_revalidated() {
    let app = spawn_app().await;

    // Pages link only to our own origin: no web fonts, CDNs or trackers.
    for path in ["/", "/products/aurora-ceramic-mug", "/cart", "/orders"] {
        let (_, page) = app.get_page(path).await;
        let html = scraper::Html::parse_document(&page);
        let selector = scraper::Selector::parse("link[href], script[src], img[src]").unwrap();
        for element in html.select(&selector) {
            let url = element
                .value()
                .attr("href")
                .or(element.value().attr("src"))
                .unwrap();
            // Relative, or absolute on our own origin (canonical links).
            let ours = url.starts_with('/') || url.starts_with(&format!("{}/", app.address));
            assert!(ours, "{path} loads {url} from elsewhere");
        }
    }
    let css = app.get("/static/css/app.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    let headers = css.headers().clone();
    let css = css.text().await.unwrap();
    assert!(
        !css.contains("@import") && !css.contains("url(http") && !css.contains("@font-face"),
        "the stylesheet loads nothing from elsewhere"
    );

    for path in [
        "/static/css/app.css",
        "/static/img/logo.svg",
        "/static/favicon.svg",
        "/static/img/products/aurora-ceramic-mug.svg",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=3600",
            "{path}"
        );
        assert!(response.headers().contains_key("last-modified"), "{path}");
        let etag = response.headers()["etag"].clone();
        // Once the hour is up, a browser revalidates and gets a bodiless 304.
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["cache-control"], "public, max-age=3600");
    }
    assert!(headers.contains_key("etag"));

    // A missing file is not cached.
    let missing = app.get("/static/css/nope.css").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["cache-control"], "private, no-cache");
}
