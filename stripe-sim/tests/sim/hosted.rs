//! The hosted payment page, driven over HTTP like a browser without JavaScript.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness;
use crate::schema::assert_valid;

#[tokio::test]
async fn the_page_shows_the_items_the_total_and_labelled_fields() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("customer_email", "jenny@example.com"),
            (
                "line_items[0][price_data][product_data][description]",
                "Organic cotton",
            ),
        ])
        .await;
    let url = session["url"].as_str().unwrap();
    let response = sim.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for needle in [
        "Tee shirt",
        "Organic cotton",
        "Qty 2 &times; $12.50",
        "$25.00",
        r#"value="jenny@example.com""#,
        &format!(r#"action="{url}""#),
        r#"href="https://shop.test/cart""#,
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    for field in [
        "email",
        "card_number",
        "exp_month",
        "exp_year",
        "cvc",
        "name",
    ] {
        assert!(
            html.contains(&format!(r#"<label for="{field}">"#)),
            "no label for {field}"
        );
        assert!(
            html.contains(&format!(r#"name="{field}""#)),
            "no field {field}"
        );
    }
    assert!(!html.contains("<script"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_good_card_completes_the_session_and_redirects() {
    let sim = harness::start().await;
    let session = sim.create_session(&[("metadata[order]", "7")]).await;
    let id = session["id"].as_str().unwrap();
    let response = sim.pay(&session, "4242 4242 4242 4242").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("https://shop.test/thanks?session_id={id}").as_str()
    );
    let session = sim.session(id).await;
    assert_valid("checkout.session", &session);
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    assert_eq!(session["url"], Value::Null);
    assert_eq!(session["customer_details"]["email"], "jenny@example.com");
    assert_eq!(session["customer_details"]["name"], "Jenny Rosen");
    // customer_creation defaults to if_required: no customer without a saved card.
    assert_eq!(session["customer"], Value::Null);
    let intent_id = session["payment_intent"].as_str().unwrap();
    let intent = sim
        .get(
            &format!("/v1/payment_intents/{intent_id}"),
            &[("expand[]", "latest_charge")],
        )
        .await
        .ok();
    assert_valid("payment_intent", &intent);
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 2500);
    assert_eq!(intent["currency"], "usd");
    let charge = &intent["latest_charge"];
    assert_valid("charge", charge);
    assert!(charge["id"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(charge["status"], "succeeded");
    assert_eq!(charge["billing_details"]["email"], "jenny@example.com");
    assert_eq!(charge["payment_method_details"]["card"]["brand"], "visa");
    let types = sim.event_types().await;
    assert!(types.contains(&"checkout.session.completed".to_owned()));
    assert!(types.contains(&"payment_intent.succeeded".to_owned()));
    assert!(!types.contains(&"customer.created".to_owned()));
    // Paying again shows that the session is done.
    let again = sim
        .http
        .post(format!("{}/c/pay/{id}", sim.base))
        .form(&[("email", "a@b.co")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already paid"));
    sim.shutdown().await;
}

#[tokio::test]
async fn customer_creation_always_makes_a_customer_without_saving_the_card() {
    let sim = harness::start().await;
    let session = sim.paid_session(&[("customer_creation", "always")]).await;
    let customer = session["customer"].as_str().unwrap();
    let customer = sim
        .get(&format!("/v1/customers/{customer}"), &[])
        .await
        .ok();
    assert_eq!(customer["email"], "jenny@example.com");
    assert_eq!(customer["name"], "Jenny Rosen");
    let id = customer["id"].as_str().unwrap();
    let methods = sim
        .get(&format!("/v1/customers/{id}/payment_methods"), &[])
        .await
        .ok();
    assert_eq!(methods["data"], Value::Array(vec![]));
    sim.shutdown().await;
}

#[tokio::test]
async fn setup_future_usage_saves_the_card_on_a_new_customer() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("payment_intent_data[setup_future_usage]", "off_session"),
            ("payment_intent_data[metadata][cart]", "c1"),
        ])
        .await;
    let response = sim
        .pay_form(
            &session,
            &[
                ("card_number", "5555555555554444"),
                ("exp_month", "8"),
                ("exp_year", "2031"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = sim.session(session["id"].as_str().unwrap()).await;
    let customer = session["customer"].as_str().unwrap();
    assert!(customer.starts_with("cus_"));
    let methods = sim
        .get(&format!("/v1/customers/{customer}/payment_methods"), &[])
        .await
        .ok();
    assert_eq!(
        methods["url"],
        format!("/v1/customers/{customer}/payment_methods")
    );
    let pm = &methods["data"][0];
    assert_valid("payment_method", pm);
    assert!(pm["id"].as_str().unwrap().starts_with("pm_"));
    assert_eq!(pm["customer"], customer);
    assert_eq!(pm["card"]["brand"], "mastercard");
    assert_eq!(pm["card"]["last4"], "4444");
    assert_eq!(pm["card"]["exp_month"], 8);
    assert_eq!(pm["card"]["exp_year"], 2031);
    let intent_id = session["payment_intent"].as_str().unwrap();
    let intent = sim
        .get(&format!("/v1/payment_intents/{intent_id}"), &[])
        .await
        .ok();
    assert_eq!(intent["setup_future_usage"], "off_session");
    assert_eq!(intent["customer"], customer);
    assert_eq!(intent["payment_method"], pm["id"]);
    assert_eq!(intent["metadata"]["cart"], "c1");
    sim.shutdown().await;
}

#[tokio::test]
async fn declined_cards_show_stripes_message_and_leave_the_session_open() {
    let sim = harness::start().await;
    for (card, message, decline_code) in [
        (
            "4000000000000002",
            "Your card was declined.",
            "generic_decline",
        ),
        (
            "4000000000009995",
            "Your card has insufficient funds.",
            "insufficient_funds",
        ),
        ("4000000000000069", "Your card has expired.", "expired_card"),
    ] {
        let session = sim.create_session(&[]).await;
        let id = session["id"].as_str().unwrap();
        let response = sim.pay(&session, card).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED, "{card}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!(
                r#"role="alert" id="payment-error">{}"#,
                message.replace('\'', "&#39;")
            )),
            "{card}: {html}"
        );
        assert!(
            html.contains(r#"value="jenny@example.com""#),
            "the form keeps its input"
        );
        let session = sim.session(id).await;
        assert_eq!(session["status"], "open");
        assert_eq!(session["payment_status"], "unpaid");
        assert_eq!(session["payment_intent"], Value::Null);
        let failed = sim
            .get("/v1/events", &[("type", "payment_intent.payment_failed")])
            .await
            .ok();
        let intent = &failed["data"][0]["data"]["object"];
        assert_valid("payment_intent", intent);
        assert_eq!(intent["last_payment_error"]["decline_code"], decline_code);
        assert_eq!(intent["last_payment_error"]["message"], message);
    }
    // A failed attempt does not stop a later good one; the PaymentIntent is reused.
    let session = sim.create_session(&[]).await;
    sim.pay(&session, "4000000000000002").await;
    let response = sim.pay(&session, "4242424242424242").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = sim.session(session["id"].as_str().unwrap()).await;
    let intent_id = session["payment_intent"].as_str().unwrap();
    let failed = sim
        .get("/v1/events", &[("type", "payment_intent.payment_failed")])
        .await
        .ok();
    assert_eq!(failed["data"][0]["data"]["object"]["id"], intent_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_numbers_and_bad_fields_are_rejected_inline() {
    let sim = harness::start().await;
    let session = sim.create_session(&[]).await;
    for (fields, status, message) in [
        (
            vec![("card_number", "4242424242424241")],
            402,
            "Your card number is incorrect.",
        ),
        (
            vec![("card_number", "1234")],
            402,
            "Your card number is incorrect.",
        ),
        (
            vec![("card_number", "")],
            402,
            "Your card number is incomplete.",
        ),
        (
            vec![("card_number", "4242424242424242"), ("exp_month", "13")],
            402,
            "Your card&#39;s expiration month is invalid.",
        ),
        (
            vec![("card_number", "4242424242424242"), ("exp_year", "2001")],
            402,
            "Your card&#39;s expiration year is in the past.",
        ),
        (
            vec![("card_number", "4242424242424242"), ("cvc", "1")],
            402,
            "Your card&#39;s security code is incomplete.",
        ),
        (
            vec![("card_number", "4242424242424242"), ("email", "")],
            400,
            "Your email address is incomplete.",
        ),
        (
            vec![("card_number", "4242424242424242"), ("email", "jenny")],
            400,
            "Your email address is invalid.",
        ),
    ] {
        let response = sim.pay_form(&session, &fields).await;
        assert_eq!(response.status().as_u16(), status, "{fields:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{fields:?}: expected {message}");
    }
    let session = sim.session(session["id"].as_str().unwrap()).await;
    assert_eq!(session["status"], "open");
    // Nothing reached the card network, so no payment was attempted.
    assert!(sim.event_types().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_3ds_card_asks_for_authentication_which_can_pass_or_fail() {
    let sim = harness::start().await;
    let session = sim.create_session(&[]).await;
    let url = session["url"].as_str().unwrap().to_owned();
    let id = session["id"].as_str().unwrap();
    let authenticate = |action: &'static str| {
        sim.http
            .post(format!("{url}/authenticate"))
            .form(&[("action", action)])
            .send()
    };

    let page = sim.pay(&session, "4000 0025 0000 3155").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Complete authentication"));
    assert!(html.contains("Fail authentication"));
    assert!(html.contains(&format!(r#"action="{url}/authenticate""#)));
    let pending = sim
        .get("/v1/events", &[("type", "payment_intent.requires_action")])
        .await
        .ok();
    assert_eq!(
        pending["data"][0]["data"]["object"]["status"],
        "requires_action"
    );

    let failed = authenticate("fail").await.unwrap();
    assert_eq!(failed.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(
        failed
            .text()
            .await
            .unwrap()
            .contains("We are unable to authenticate your payment method.")
    );
    assert_eq!(sim.session(id).await["status"], "open");
    let intent = sim
        .get("/v1/events", &[("type", "payment_intent.payment_failed")])
        .await
        .ok();
    let intent = &intent["data"][0]["data"]["object"];
    assert_eq!(
        intent["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );

    // With nothing pending, the authentication page sends the customer back.
    let stale = authenticate("complete").await.unwrap();
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers()["location"], url.as_str());

    sim.pay(&session, "4000 0025 0000 3155").await;
    let passed = authenticate("complete").await.unwrap();
    assert_eq!(passed.status(), StatusCode::SEE_OTHER);
    let session = sim.session(id).await;
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_and_unknown_sessions_cannot_be_paid() {
    let sim = harness::start().await;
    let session = sim.create_session(&[]).await;
    let id = session["id"].as_str().unwrap();
    sim.post(&format!("/v1/checkout/sessions/{id}/expire"), &[])
        .await
        .ok();
    let page = sim
        .http
        .get(format!("{}/c/pay/{id}", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("expired"));
    let posted = sim
        .http
        .post(format!("{}/c/pay/{id}", sim.base))
        .form(&[
            ("email", "jenny@example.com"),
            ("card_number", "4242424242424242"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::GONE);
    let unknown = sim
        .http
        .get(format!("{}/c/pay/cs_test_nope", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}
