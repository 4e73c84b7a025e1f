//! `/v1/checkout/sessions`: shapes (against Stripe's spec), lists, expiry and parameter checks.

use serde_json::Value;

use crate::harness::{self, ids, now, session_params};
use crate::schema::assert_valid;

#[tokio::test]
async fn creating_a_session_returns_an_open_session_in_stripes_shape() {
    let sim = harness::start().await;
    let reply = sim
        .post(
            "/v1/checkout/sessions",
            &[
                session_params(),
                vec![
                    ("line_items[0][price_data][currency]", "USD".into()),
                    ("customer_email", "jenny@example.com".into()),
                    ("client_reference_id", "order_42".into()),
                    ("metadata[order_id]", "42".into()),
                    ("customer_creation", "always".into()),
                ],
            ]
            .concat(),
        )
        .await;
    assert!(reply.header("Request-Id").unwrap().starts_with("req_"));
    let session = reply.ok();
    assert_valid("checkout.session", &session);
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_") && id.len() == 66, "{id}");
    assert!(id[8..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["url"], format!("{}/c/pay/{id}", sim.base));
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["amount_subtotal"], 2500);
    assert_eq!(session["amount_total"], 2500);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["customer_email"], "jenny@example.com");
    assert_eq!(session["customer_creation"], "always");
    assert_eq!(session["client_reference_id"], "order_42");
    assert_eq!(session["metadata"]["order_id"], "42");
    assert_eq!(session["payment_intent"], Value::Null);
    assert_eq!(session["customer"], Value::Null);
    assert_eq!(session["livemode"], false);
    assert!(
        session.get("line_items").is_none(),
        "line_items only when expanded"
    );
    let expires_in = session["expires_at"].as_i64().unwrap() - now();
    assert!((86_390..=86_410).contains(&expires_in), "{expires_in}");
    assert!((session["created"].as_i64().unwrap() - now()).abs() <= 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn retrieving_expands_line_items_and_the_payment_intent() {
    let sim = harness::start().await;
    let paid = sim.paid_session(&[]).await;
    let id = paid["id"].as_str().unwrap();
    let session = sim
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]", "line_items"), ("expand[]", "payment_intent")],
        )
        .await
        .ok();
    assert_valid("checkout.session", &session);
    let items = &session["line_items"];
    assert_eq!(items["object"], "list");
    assert_eq!(
        items["url"],
        format!("/v1/checkout/sessions/{id}/line_items")
    );
    assert_eq!(items["data"][0]["description"], "Tee shirt");
    assert_eq!(items["data"][0]["quantity"], 2);
    assert_eq!(items["data"][0]["amount_total"], 2500);
    assert_valid("item", &items["data"][0]);
    let intent = &session["payment_intent"];
    assert_valid("payment_intent", intent);
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 2500);

    let nested = sim
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]", "payment_intent.latest_charge")],
        )
        .await
        .ok();
    assert_valid("charge", &nested["payment_intent"]["latest_charge"]);
    assert_eq!(nested["payment_intent"]["latest_charge"]["amount"], 2500);
    // On an unpaid session the path stops at the null payment_intent.
    let open = sim.create_session(&[]).await;
    let open = sim
        .get(
            &format!("/v1/checkout/sessions/{}", open["id"].as_str().unwrap()),
            &[("expand[]", "payment_intent.latest_charge")],
        )
        .await
        .ok();
    assert_eq!(open["payment_intent"], Value::Null);

    let bad = sim
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]", "success_url")],
        )
        .await
        .error(400);
    assert_eq!(
        bad["message"],
        "This property cannot be expanded (success_url)."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sessions_list_newest_first_with_cursors() {
    let sim = harness::start().await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(
            sim.create_session(&[]).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = sim
        .get("/v1/checkout/sessions", &[("limit", "2")])
        .await
        .ok();
    assert_eq!(first["object"], "list");
    assert_eq!(first["url"], "/v1/checkout/sessions");
    assert_eq!(first["has_more"], true);
    assert_eq!(ids(&first), vec![created[2].clone(), created[1].clone()]);
    for session in first["data"].as_array().unwrap() {
        assert_valid("checkout.session", session);
    }
    let rest = sim
        .get(
            "/v1/checkout/sessions",
            &[("limit", "2"), ("starting_after", &created[1])],
        )
        .await
        .ok();
    assert_eq!(ids(&rest), vec![created[0].clone()]);
    assert_eq!(rest["has_more"], false);
    let before = sim
        .get("/v1/checkout/sessions", &[("ending_before", &created[0])])
        .await
        .ok();
    assert_eq!(ids(&before), vec![created[2].clone(), created[1].clone()]);
    let open = sim
        .get("/v1/checkout/sessions", &[("status", "complete")])
        .await
        .ok();
    assert!(ids(&open).is_empty());
    let err = sim
        .get("/v1/checkout/sessions", &[("limit", "101")])
        .await
        .error(400);
    assert_eq!(err["param"], "limit");
    sim.shutdown().await;
}

#[tokio::test]
async fn line_items_are_listed_in_order() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("line_items[1][price_data][currency]", "usd"),
            ("line_items[1][price_data][unit_amount]", "300"),
            ("line_items[1][price_data][product_data][name]", "Socks"),
            ("line_items[1][quantity]", "3"),
        ])
        .await;
    assert_eq!(session["amount_total"], 2500 + 900);
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/checkout/sessions/{id}/line_items");
    let all = sim.get(&path, &[]).await.ok();
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["description"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Tee shirt", "Socks"]);
    assert_eq!(all["url"], path);
    let page = sim.get(&path, &[("limit", "1")]).await.ok();
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["description"], "Tee shirt");
    sim.get("/v1/checkout/sessions/cs_test_missing/line_items", &[])
        .await
        .error(404);
    sim.shutdown().await;
}

#[tokio::test]
async fn expiring_a_session_works_once() {
    let sim = harness::start().await;
    let session = sim.create_session(&[]).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/checkout/sessions/{id}/expire");
    let expired = sim.post(&path, &[]).await.ok();
    assert_valid("checkout.session", &expired);
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["url"], Value::Null);
    let again = sim.post(&path, &[]).await.error(400);
    assert_eq!(again["type"], "invalid_request_error");
    assert_eq!(
        again["message"],
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
    );
    assert!(
        sim.event_types()
            .await
            .contains(&"checkout.session.expired".to_owned())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn session_parameters_are_validated_like_stripe() {
    let sim = harness::start().await;
    let soon = (now() + 60).to_string();
    let late = (now() + 25 * 3600).to_string();
    // (parameter, value, expected code or ""): the error names the parameter.
    let cases: [(&str, String, &str); 17] = [
        ("mode", String::new(), "parameter_invalid_empty"),
        ("success_url", "not a url".into(), "url_invalid"),
        ("line_items[0][colour]", "red".into(), "parameter_unknown"),
        ("line_items[0][amount]", "100".into(), "parameter_unknown"),
        (
            "line_items[0][price]",
            "price_123".into(),
            "resource_missing",
        ),
        ("line_items[0][quantity]", "0".into(), ""),
        (
            "line_items[0][quantity]",
            "two".into(),
            "parameter_invalid_integer",
        ),
        ("line_items[0][price_data][unit_amount]", "-1".into(), ""),
        ("line_items[0][price_data][currency]", "dollars".into(), ""),
        ("expires_at", soon, ""),
        ("expires_at", late, ""),
        ("customer_creation", "sometimes".into(), ""),
        ("customer", "cus_missing".into(), "resource_missing"),
        ("customer_email", "not-an-email".into(), "email_invalid"),
        ("payment_method_types[0]", "ideal".into(), ""),
        (
            "payment_intent_data[setup_future_usage]",
            "later".into(),
            "",
        ),
        ("client_reference_id", "x".repeat(201), ""),
    ];
    for (param, value, code) in cases {
        let mut form = session_params();
        form.retain(|(k, _)| *k != param);
        form.push((param, value));
        let err = sim.post("/v1/checkout/sessions", &form).await.error(400);
        assert_eq!(err["param"], param, "{err:#}");
        assert_eq!(err["type"], "invalid_request_error");
        if !code.is_empty() {
            assert_eq!(err["code"], code, "{err:#}");
        }
    }
    let mut no_success = session_params();
    no_success.retain(|(k, _)| *k != "success_url");
    let err = sim
        .post("/v1/checkout/sessions", &no_success)
        .await
        .error(400);
    assert_eq!(err["message"], "Missing required param: success_url.");
    assert_eq!(err["code"], "parameter_missing");
    let soon = (now() + 60).to_string();
    let mut form = session_params();
    form.push(("expires_at", soon));
    let err = sim.post("/v1/checkout/sessions", &form).await.error(400);
    assert_eq!(
        err["message"],
        "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."
    );
    assert_eq!(
        sim.get("/v1/checkout/sessions", &[]).await.ok()["data"],
        Value::Array(vec![])
    );
    // A total below Stripe's minimum charge.
    let mut form = session_params();
    form.retain(|(k, _)| {
        *k != "line_items[0][price_data][unit_amount]" && *k != "line_items[0][quantity]"
    });
    form.push(("line_items[0][price_data][unit_amount]", "49".into()));
    form.push(("line_items[0][quantity]", "1".into()));
    let err = sim.post("/v1/checkout/sessions", &form).await.error(400);
    assert_eq!(err["code"], "amount_too_small");
    assert_eq!(
        err["message"],
        "The Checkout Session's total amount due must add up to at least $0.50 usd"
    );
    // Expiry inside the window is accepted and echoed.
    let at = (now() + 3600).to_string();
    let session = sim.create_session(&[("expires_at", &at)]).await;
    assert_eq!(session["expires_at"].to_string(), at);
    sim.shutdown().await;
}

#[tokio::test]
async fn amounts_above_stripes_maximum_are_amount_too_large() {
    let sim = harness::start().await;
    let with_item = |unit: &str, quantity: &str| {
        let mut form = session_params();
        form.retain(|(k, _)| {
            *k != "line_items[0][price_data][unit_amount]" && *k != "line_items[0][quantity]"
        });
        form.push(("line_items[0][price_data][unit_amount]", unit.to_owned()));
        form.push(("line_items[0][quantity]", quantity.to_owned()));
        form
    };
    // Exactly the maximum is fine.
    let at_most = sim
        .post("/v1/checkout/sessions", &with_item("99999999", "1"))
        .await
        .ok();
    assert_eq!(at_most["amount_total"], 99_999_999);
    // One item over, a sum over, and a product that would overflow an i64.
    for (unit, quantity) in [
        ("100000000", "1"),
        ("50000000", "2"),
        ("9223372036854775807", "2"),
    ] {
        let err = sim
            .post("/v1/checkout/sessions", &with_item(unit, quantity))
            .await
            .error(400);
        assert_eq!(err["type"], "invalid_request_error");
        assert_eq!(err["code"], "amount_too_large", "{unit} × {quantity}");
        assert_eq!(err["param"], "line_items");
        assert_eq!(
            err["message"],
            "The Checkout Session's total amount due must be no more than $999,999.99"
        );
    }
    for (amount, currency, message) in [
        (
            "100000000",
            "usd",
            "Amount must be no more than $999,999.99",
        ),
        (
            "100000000",
            "jpy",
            "Amount must be no more than ¥99,999,999",
        ),
    ] {
        let err = sim
            .post(
                "/v1/payment_intents",
                &[("amount", amount.into()), ("currency", currency.into())],
            )
            .await
            .error(400);
        assert_eq!(err["code"], "amount_too_large");
        assert_eq!(err["param"], "amount");
        assert_eq!(err["message"], message);
    }
    let at_most = sim
        .post(
            "/v1/payment_intents",
            &[("amount", "99999999".into()), ("currency", "usd".into())],
        )
        .await
        .ok();
    assert_eq!(at_most["amount"], 99_999_999);
    sim.shutdown().await;
}
