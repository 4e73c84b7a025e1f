//! The API's requests and answers: amounts, keys, unknown routes, PATCH,
//! malformed input, and the OpenAPI document.

use super::*;

#[tokio::test]
async fn amounts_are_parsed_exactly_against_the_currency() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;

    for (amount, currency, code) in [
        (json!("42.999"), "usd", "amount_too_precise"),
        (json!("1.5"), "jpy", "amount_too_precise"),
        (json!("0"), "usd", "amount_too_small"),
        (json!("0.49"), "usd", "amount_too_small"),
        (json!("0.29"), "gbp", "amount_too_small"),
        (json!("49"), "jpy", "amount_too_small"),
        (json!("-5"), "usd", "amount_invalid"),
        (json!("1e3"), "usd", "amount_invalid"),
        (json!("10.00"), "xyz", "currency_unsupported"),
        (json!(42.99), "usd", "parameter_invalid"),
    ] {
        let key = uuid::Uuid::new_v4().to_string();
        let body = json!({ "account_id": account, "amount": amount, "currency": currency });
        let (status, error) = read(api.debit_with_key(&key, body).await).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, code);
    }
    // No decimals in yen, and that is fine.
    let (status, body) = api.debit(&account, "4300", "jpy").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["amount"], &body["amount_minor"], &body["currency"]),
        (&json!("4300"), &json!(4300), &json!("jpy"))
    );
}

#[tokio::test]
async fn every_api_route_needs_a_valid_key() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let http = reqwest::Client::new();
    let paths = [
        "/api/v1/payments/pay_0000000000000000000000",
        "/api/v1/accounts/acct_0000000000000000000000/payments",
        "/api/v1/openapi.json",
        "/api/v1/nothing-here",
        "/api",
    ];
    for path in paths {
        let (status, body) = read(http.get(app.url(path)).send().await.unwrap()).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
        for bad in [
            "Bearer sk_store_wrong",
            "Basic abc",
            "Bearer",
            api.key.as_str(),
        ] {
            let response = http
                .get(app.url(path))
                .header("Authorization", bad)
                .send()
                .await
                .unwrap();
            let (status, body) = read(response).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
        }
    }
    let response = http
        .post(app.url("/api/v1/payments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A revoked key stops working.
    let (status, _) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut conn = app.db().await;
    let revoked = storefront::payments_api::keys::revoke_key(&mut conn, &api.key[..17])
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    // Every node forgets its kept keys when told (`keys.rs`).
    app.eventually("the revoked key is refused", || async {
        api.get("/api/v1/openapi.json").await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    let (status, body) = api.get("/api/v1/openapi.json").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn unknown_payments_accounts_and_routes_are_404_json() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    for path in [
        "/api/v1/payments/pay_0000000000000000000000",
        "/api/v1/payments/not-an-id%00",
        "/api/v1/accounts/acct_0000000000000000000000/payments",
        "/api/v1/accounts/%E2%9C%93/payments",
    ] {
        let (status, body) = api.get(path).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
    }
    let (status, body) = api
        .debit("acct_0000000000000000000000", "1.00", "usd")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
    assert_eq!(body["error"]["param"], "account_id");
    let (status, body) = api.get("/api/v1/refunds").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
    let response = api
        .request(
            reqwest::Method::DELETE,
            "/api/v1/payments/pay_0000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn patch_changes_a_payment_only_at_the_current_version() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, false).await;
    let (_, list) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["data"][0]["version"], 1);

    let (status, updated) = api
        .patch(
            &id,
            json!({ "description": "Mug for Sam", "metadata": { "crm": "42", "note": "gift" }, "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["description"], "Mug for Sam");
    assert_eq!(updated["metadata"]["crm"], "42");

    // A writer still holding version 1 is refused, and nothing changes.
    let (status, body) = api
        .patch(&id, json!({ "description": "Overwritten", "version": 1 }))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "version_conflict");
    let (_, current) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(current, updated);

    // Metadata merges; null removes a key.
    let (status, updated) = api
        .patch(
            &id,
            json!({ "metadata": { "note": null, "tier": "gold" }, "version": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 3);
    assert_eq!(
        updated["metadata"],
        json!({ "crm": "42", "order_id": list["data"][0]["metadata"]["order_id"], "tier": "gold" })
    );
    assert_eq!(updated["description"], "Mug for Sam");

    let (status, body) = api
        .patch(&id, json!({ "metadata": { "a[b]": "x" }, "version": 3 }))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "parameter_invalid");
    // A version no payment can have is a bad request, not a stale one.
    for version in [json!(0), json!(-5), json!(3_000_000_000_i64)] {
        let (status, body) = api
            .patch(&id, json!({ "description": "x", "version": version }))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(body["error"]["param"], "version");
    }
    let (status, body) = api
        .patch(
            "pay_0000000000000000000000",
            json!({ "description": "x", "version": 1 }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
}

#[tokio::test]
async fn malformed_requests_are_4xx_json_never_500() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        api.request(reqwest::Method::POST, "/api/v1/payments")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (b"{not json".to_vec(), "application/json", StatusCode::BAD_REQUEST, "malformed_json"),
        (b"".to_vec(), "application/json", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            br#"{"account_id":"acct_0000000000000000000000","amount":"1.00","currency":"usd","price":"0.01"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
        ),
        (
            br#"{"account_id":7,"amount":"1.00","currency":"usd"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            br#"{"amount":"1.00","currency":"usd"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_missing",
        ),
        (
            br#"{"account_id":"acct_\u0000","amount":"1.00","currency":"usd","description":"\u0000"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            format!(
                r#"{{"account_id":"acct_0000000000000000000000","amount":"1.00","currency":"usd","description":"{}"}}"#,
                "x".repeat(100 * 1024)
            )
            .into_bytes(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            b"account_id=acct_x&amount=1".to_vec(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
        ),
    ];
    for (body, content_type, expected, code) in cases {
        let (status, error) = read(post(body, content_type).await.unwrap()).await;
        assert_error(status, &error, expected, code);
    }
    let (status, error) = api
        .patch("pay_0000000000000000000000", json!({ "version": "one" }))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "parameter_invalid");
    let (status, error) = api
        .get("/api/v1/accounts/acct_0000000000000000000000/payments?colour=red")
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "parameter_invalid");
}

#[tokio::test]
async fn the_openapi_document_is_generated_from_the_route_table_and_lists_every_route() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc,
        serde_json::to_value(storefront::payments_api::openapi()).unwrap()
    );
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("DELETE", "/api/v1/webhook_endpoints/{id}"),
            ("GET", "/api/v1/accounts/{account_id}/payments"),
            ("GET", "/api/v1/events"),
            ("GET", "/api/v1/events/{id}"),
            ("GET", "/api/v1/openapi.json"),
            ("GET", "/api/v1/payments/{id}"),
            ("GET", "/api/v1/payments/{id}/refunds"),
            ("GET", "/api/v1/webhook_endpoints"),
            ("GET", "/api/v1/webhook_endpoints/{id}"),
            ("GET", "/api/v1/webhook_endpoints/{id}/deliveries"),
            ("PATCH", "/api/v1/payments/{id}"),
            ("PATCH", "/api/v1/webhook_endpoints/{id}"),
            ("POST", "/api/v1/events/{id}/replay"),
            ("POST", "/api/v1/payments"),
            ("POST", "/api/v1/payments/{id}/refunds"),
            ("POST", "/api/v1/webhook_endpoints"),
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
    // Each documented route is served (a known 4xx, not "no such route").
    for (method, path) in &routes {
        let path = path
            .replace("{id}", "pay_0000000000000000000000")
            .replace("{account_id}", "acct_0000000000000000000000");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = api
            .request(method, &path)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let (_, body) = read(response).await;
        assert_ne!(body["error"]["code"], "route_not_found", "{path}");
    }
    // Requests, responses and errors are described.
    for schema in [
        "CreatePayment",
        "UpdatePayment",
        "PaymentObject",
        "PaymentList",
        "CreateRefund",
        "RefundObject",
        "RefundList",
        "CreateWebhookEndpoint",
        "UpdateWebhookEndpoint",
        "WebhookEndpointObject",
        "EventObject",
        "DeliveryObject",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} in components"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    // Asynchronous debits: the field, their status and their 202 answer.
    let confirm = &doc["components"]["schemas"]["CreatePayment"]["properties"]["confirm"];
    assert_eq!(confirm["pattern"], "^(sync|async)$", "{confirm}");
    let status = &doc["components"]["schemas"]["PaymentObject"]["properties"]["status"];
    assert!(
        status["description"].as_str().unwrap().contains("`queued`"),
        "{status}"
    );
    let accepted = &doc["paths"]["/api/v1/payments"]["post"]["responses"]["202"];
    assert!(
        accepted["description"].as_str().unwrap().contains("queued"),
        "{accepted}"
    );
    assert_eq!(
        accepted["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PaymentObject"
    );
}

#[tokio::test]
async fn a_history_page_answers_for_its_own_account_only() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let empty = "acct_withoutpayments000000";
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO accounts (id, email) VALUES ('{empty}', 'nobody@example.com')"
        ))
        .await
        .unwrap();

    // An account without payments: an empty page, not a 404.
    let (status, page) = api.get(&format!("/api/v1/accounts/{empty}/payments")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"], json!([]));
    assert_eq!(page["has_more"], false);
    assert_eq!(page["url"], format!("/api/v1/accounts/{empty}/payments"));

    // Another account's payment is no cursor here.
    let (_, theirs) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let theirs = theirs["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = api
        .get(&format!(
            "/api/v1/accounts/{empty}/payments?starting_after={theirs}"
        ))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "resource_missing");
    assert_eq!(body["error"]["param"], "starting_after");
    // A cursor that is no payment id at all, the same.
    let (status, body) = api
        .get(&format!(
            "/api/v1/accounts/{account}/payments?starting_after=acct_0000000000000000000000"
        ))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "resource_missing");
}
