//! Health and readiness probes, and the metrics.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let app = spawn_app().await;

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["database"], "ok");
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;

    for path in ["/", "/cart", "/missing"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains(&format!("form-action 'self' {}", app.sim_url)),
            "{csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["referrer-policy"],
            "strict-origin-when-cross-origin"
        );
        assert!(
            headers.get("strict-transport-security").is_none(),
            "served over plain http"
        );
    }
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure_and_hsts_is_sent() {
    let app =
        crate::helpers::spawn_app_with(&[("APP_BASE_URL", "https://shop.example.test")]).await;

    // The first page gives the browser its session (and its CSRF token).
    let response = app.get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn metrics_expose_request_latency_checkouts_webhooks_the_pool_and_write_batches() {
    let app = spawn_app().await;
    app.get("/products/aurora-ceramic-mug").await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.checkout().await;
    let rejected = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    for method in ["FOO1", "FOO2", "BREW"] {
        let invented = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        reqwest::Client::new()
            .request(invented, app.url("/"))
            .send()
            .await
            .unwrap();
    }

    // Not on the shop's port: the metrics tell sales volumes.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let response = reqwest::get(app.metrics_url()).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        body.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{body}"))
    };
    // Route patterns, not raw paths, label the latency histogram.
    assert!(
        value(
            r#"storefront_http_request_duration_seconds_count{method="GET",route="/products/{slug}",status="200"}"#
        ) >= 1.0
    );
    assert!(value(r#"storefront_checkouts_total{outcome="created"}"#) >= 1.0);
    assert!(
        value(r#"storefront_webhook_events_total{outcome="rejected",type="unverified"}"#) >= 1.0
    );
    assert!(value(r#"storefront_db_pool_connections{state="max"}"#) >= 1.0);
    // The add to cart went through a write batch.
    assert!(value(r#"storefront_db_write_batch_size_count{kind="cart_add"}"#) >= 1.0);
    assert!(
        !body.contains("aurora-ceramic-mug"),
        "no raw paths in labels"
    );
    // Methods clients invent count as one label value.
    assert!(
        value(r#"storefront_http_request_duration_seconds_count{method="other",route="/","#) >= 3.0
    );
    assert!(!body.contains("FOO1") && !body.contains("BREW"));
}

#[tokio::test]
async fn writes_beyond_the_rate_limit_get_429_with_retry_after() {
    let app = crate::helpers::spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "6"),
        ("RATE_LIMIT_BURST", "2"),
    ])
    .await;

    for _ in 0..2 {
        let response = app.add_to_cart("field-notes-journal", "1").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let response = app.add_to_cart("field-notes-journal", "1").await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Please try again in")
    );
    assert_eq!(
        app.cart_rows().await[0].2,
        2,
        "the limited request changed nothing"
    );
    // Reads are not limited; the JSON API answers in its own error shape.
    assert_eq!(app.get("/cart").await.status(), StatusCode::OK);
    let api = reqwest::Client::new()
        .post(app.url("/api/v1/payments"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}
