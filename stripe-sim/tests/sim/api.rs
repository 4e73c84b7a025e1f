//! The other `/v1` endpoints: customers, PaymentIntents, refunds, events, webhook
//! endpoints, missing objects and keys.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{self, KEY, ids, session_params};
use crate::schema::assert_valid;

#[tokio::test]
async fn missing_objects_are_404_resource_missing() {
    let sim = harness::start().await;
    let err = sim
        .get("/v1/checkout/sessions/cs_test_nope", &[])
        .await
        .error(404);
    assert_eq!(err["code"], "resource_missing");
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["message"], "No such checkout.session: 'cs_test_nope'");
    let err = sim.get("/v1/payment_intents/pi_nope", &[]).await.error(404);
    assert_eq!(err["message"], "No such payment_intent: 'pi_nope'");
    let err = sim.get("/v1/customers/cus_nope", &[]).await.error(404);
    assert_eq!(err["message"], "No such customer: 'cus_nope'");
    sim.get("/v1/customers/cus_nope/payment_methods", &[])
        .await
        .error(404);
    sim.get("/v1/events/evt_nope", &[]).await.error(404);
    let err = sim.get("/v1/charges", &[]).await.error(404);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/charges)")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_need_a_test_secret_key() {
    let sim = harness::start().await;
    let url = format!("{}/v1/customers", sim.base);
    let cases = [
        (None, 401),
        (Some("Bearer sk_live_abc123"), 401),
        (Some("Bearer pk_test_abc123"), 401),
        (Some("Bearer sk_test_"), 401),
        (Some("Bearer sk_test_abc123"), 200),
        // HTTP Basic with the key as the username, as `curl -u sk_test_…:` sends it.
        (Some("Basic c2tfdGVzdF9hYmMxMjM6"), 200),
    ];
    for (header, expected) in cases {
        let mut request = sim.http.get(&url);
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{header:?}");
        assert!(response.headers().contains_key("Request-Id"));
        if expected == 401 {
            let body: Value = response.json().await.unwrap();
            assert_valid("error", &body);
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert!(
                !body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("abc123")
            );
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn customers_are_created_listed_and_retrieved() {
    let sim = harness::start().await;
    let jenny = sim
        .post(
            "/v1/customers",
            &[
                ("email", "jenny@example.com".into()),
                ("name", "Jenny Rosen".into()),
                ("metadata[user_id]", "7".into()),
            ],
        )
        .await
        .ok();
    assert_valid("customer", &jenny);
    let id = jenny["id"].as_str().unwrap();
    assert!(id.starts_with("cus_"));
    assert_eq!(jenny["email"], "jenny@example.com");
    assert_eq!(jenny["metadata"]["user_id"], "7");
    sim.post("/v1/customers", &[("email", "other@example.com".into())])
        .await
        .ok();
    let found = sim
        .get("/v1/customers", &[("email", "jenny@example.com")])
        .await
        .ok();
    assert_eq!(ids(&found), vec![id.to_owned()]);
    let all = sim.get("/v1/customers", &[]).await.ok();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["url"], "/v1/customers");
    let fetched = sim.get(&format!("/v1/customers/{id}"), &[]).await.ok();
    assert_eq!(fetched, jenny);
    let methods = sim
        .get(&format!("/v1/customers/{id}/payment_methods"), &[])
        .await
        .ok();
    assert_eq!(methods["data"], Value::Array(vec![]));
    let err = sim
        .post("/v1/customers", &[("email", "nope".into())])
        .await
        .error(400);
    assert_eq!(err["param"], "email");
    sim.shutdown().await;
}

/// Pays a session that saves the card and returns (customer id, payment method id).
async fn saved_card(sim: &harness::Sim, card: &str, usage: &str) -> (String, String) {
    let session = sim
        .create_session(&[("payment_intent_data[setup_future_usage]", usage)])
        .await;
    let mut response = sim.pay(&session, card).await;
    if response.status() == StatusCode::OK {
        // A 3D Secure card: pass the simulated challenge.
        response = sim
            .http
            .post(format!("{}/authenticate", session["url"].as_str().unwrap()))
            .form(&[("action", "complete")])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = sim.session(session["id"].as_str().unwrap()).await;
    let customer = session["customer"].as_str().unwrap().to_owned();
    let methods = sim
        .get(
            &format!("/v1/customers/{customer}/payment_methods"),
            &[("type", "card")],
        )
        .await
        .ok();
    let pm = methods["data"][0]["id"].as_str().unwrap().to_owned();
    (customer, pm)
}

fn off_session_charge(customer: &str, pm: &str) -> Vec<(&'static str, String)> {
    vec![
        ("amount", "1999".into()),
        ("currency", "usd".into()),
        ("customer", customer.into()),
        ("payment_method", pm.into()),
        ("confirm", "true".into()),
        ("off_session", "true".into()),
        ("description", "Renewal".into()),
        ("metadata[order_id]", "43".into()),
    ]
}

#[tokio::test]
async fn a_customers_payment_intents_are_listed_newest_first() {
    let sim = harness::start().await;
    let (customer, pm) = saved_card(&sim, "4242424242424242", "off_session").await;
    let (other, other_pm) = saved_card(&sim, "4242424242424242", "off_session").await;
    let mut charged = Vec::new();
    for _ in 0..3 {
        let intent = sim
            .post("/v1/payment_intents", &off_session_charge(&customer, &pm))
            .await
            .ok();
        charged.push(intent["id"].as_str().unwrap().to_owned());
    }
    sim.post(
        "/v1/payment_intents",
        &off_session_charge(&other, &other_pm),
    )
    .await
    .ok();

    let page = sim
        .get(
            "/v1/payment_intents",
            &[("customer", &customer), ("limit", "2")],
        )
        .await
        .ok();

    assert_eq!(page["object"], "list");
    assert_eq!(page["url"], "/v1/payment_intents");
    assert_eq!(page["has_more"], true);
    let first = ids(&page);
    let last = first[1].clone();
    let rest = sim
        .get(
            "/v1/payment_intents",
            &[("customer", &customer), ("starting_after", &last)],
        )
        .await
        .ok();
    let mut listed = first;
    listed.extend(ids(&rest));
    // The checkout that saved the card made the customer's first intent.
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(
        listed[..3],
        [charged[2].clone(), charged[1].clone(), charged[0].clone()]
    );
    for intent in rest["data"].as_array().unwrap() {
        assert_eq!(intent["customer"], customer.as_str());
    }
    let unknown = sim.get("/v1/payment_intents", &[("colour", "red")]).await;
    assert_eq!(unknown.error(400)["param"], "colour");
}

#[tokio::test]
async fn off_session_charges_of_a_saved_card_succeed() {
    let sim = harness::start().await;
    let (customer, pm) = saved_card(&sim, "4242424242424242", "off_session").await;
    let intent = sim
        .post("/v1/payment_intents", &off_session_charge(&customer, &pm))
        .await
        .ok();
    assert_valid("payment_intent", &intent);
    assert!(intent["id"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 1999);
    assert_eq!(intent["amount_received"], 1999);
    assert_eq!(intent["customer"], customer.as_str());
    assert_eq!(intent["payment_method"], pm.as_str());
    assert_eq!(intent["description"], "Renewal");
    assert_eq!(intent["metadata"]["order_id"], "43");
    assert!(intent["latest_charge"].as_str().unwrap().starts_with("ch_"));
    let id = intent["id"].as_str().unwrap();
    let fetched = sim
        .get(
            &format!("/v1/payment_intents/{id}"),
            &[("expand[]", "latest_charge")],
        )
        .await
        .ok();
    assert_valid("charge", &fetched["latest_charge"]);
    assert_eq!(fetched["latest_charge"]["paid"], true);
    assert_eq!(
        fetched["latest_charge"]["payment_method_details"]["card"]["last4"],
        "4242"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn declined_off_session_charges_embed_the_payment_intent_in_the_error() {
    let sim = harness::start().await;
    let (customer, pm) = saved_card(&sim, "4000 0000 0000 0341", "off_session").await;
    let err = sim
        .post("/v1/payment_intents", &off_session_charge(&customer, &pm))
        .await
        .error(402);
    assert_eq!(err["type"], "card_error");
    assert_eq!(err["code"], "card_declined");
    assert_eq!(err["decline_code"], "generic_decline");
    assert_eq!(err["message"], "Your card was declined.");
    assert!(err["charge"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(err["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(
        err["payment_intent"]["last_payment_error"]["decline_code"],
        "generic_decline"
    );
    assert_eq!(err["payment_method"]["id"], pm.as_str());
    let id = err["payment_intent"]["id"].as_str().unwrap();
    let stored = sim
        .get(&format!("/v1/payment_intents/{id}"), &[])
        .await
        .ok();
    assert_eq!(stored["status"], "requires_payment_method");
    let types = sim.event_types().await;
    assert!(types.contains(&"payment_intent.payment_failed".to_owned()));
    assert!(types.contains(&"charge.failed".to_owned()));
    sim.shutdown().await;
}

#[tokio::test]
async fn authentication_cards_fail_off_session_with_authentication_required() {
    let sim = harness::start().await;
    // 3184 needs authentication on every payment; 3155 only when it was not set up
    // for off-session use.
    for (card, usage, outcome) in [
        (
            "4000002760003184",
            "off_session",
            Some("authentication_required"),
        ),
        (
            "4000002500003155",
            "on_session",
            Some("authentication_required"),
        ),
        ("4000002500003155", "off_session", None),
    ] {
        let (customer, pm) = saved_card(&sim, card, usage).await;
        let methods = sim
            .get(&format!("/v1/customers/{customer}/payment_methods"), &[])
            .await
            .ok();
        assert_valid("payment_method", &methods["data"][0]);
        assert_eq!(methods["data"][0]["card"]["last4"], &card[12..]);
        let reply = sim
            .post("/v1/payment_intents", &off_session_charge(&customer, &pm))
            .await;
        match outcome {
            Some(code) => {
                let err = reply.error(402);
                assert_eq!(err["code"], code, "{card} {usage}");
                assert_eq!(err["decline_code"], code);
                assert_eq!(
                    err["message"],
                    "Your card was declined. This transaction requires authentication."
                );
            }
            None => assert_eq!(reply.ok()["status"], "succeeded", "{card} {usage}"),
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn on_session_confirmation_of_a_3ds_card_requires_action() {
    let sim = harness::start().await;
    let (customer, pm) = saved_card(&sim, "4000002500003155", "on_session").await;
    let mut form = off_session_charge(&customer, &pm);
    form.retain(|(k, _)| *k != "off_session");
    let intent = sim.post("/v1/payment_intents", &form).await.ok();
    assert_valid("payment_intent", &intent);
    assert_eq!(intent["status"], "requires_action");
    assert_eq!(intent["next_action"]["type"], "use_stripe_sdk");
    // Without confirm the intent waits; without a payment method it cannot be confirmed.
    let unconfirmed = sim
        .post(
            "/v1/payment_intents",
            &[("amount", "500".into()), ("currency", "eur".into())],
        )
        .await
        .ok();
    assert_eq!(unconfirmed["status"], "requires_payment_method");
    let err = sim
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "500".into()),
                ("currency", "eur".into()),
                ("confirm", "true".into()),
            ],
        )
        .await
        .error(400);
    assert_eq!(err["code"], "payment_intent_unexpected_state");
    let err = sim
        .post(
            "/v1/payment_intents",
            &[("amount", "0".into()), ("currency", "eur".into())],
        )
        .await
        .error(400);
    assert_eq!(err["param"], "amount");
    // Stripe's minimum charge.
    let err = sim
        .post(
            "/v1/payment_intents",
            &[("amount", "29".into()), ("currency", "gbp".into())],
        )
        .await
        .error(400);
    assert_eq!(err["code"], "amount_too_small");
    assert_eq!(err["message"], "Amount must be at least £0.30 gbp");
    sim.shutdown().await;
}

#[tokio::test]
async fn refunds_are_full_by_default_and_bounded_by_what_is_left() {
    let sim = harness::start().await;
    let paid = sim.paid_session(&[]).await;
    let intent = paid["payment_intent"].as_str().unwrap();
    let partial = sim
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", intent.into()),
                ("amount", "1000".into()),
                ("reason", "requested_by_customer".into()),
            ],
        )
        .await
        .ok();
    assert_valid("refund", &partial);
    assert!(partial["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(partial["amount"], 1000);
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["payment_intent"], intent);
    let too_much = sim
        .post(
            "/v1/refunds",
            &[("payment_intent", intent.into()), ("amount", "2000".into())],
        )
        .await
        .error(400);
    assert_eq!(
        too_much["message"],
        "Refund amount ($20.00) is greater than unrefunded amount on charge ($15.00)"
    );
    let rest = sim
        .post("/v1/refunds", &[("payment_intent", intent.into())])
        .await
        .ok();
    assert_eq!(rest["amount"], 1500);
    let again = sim
        .post("/v1/refunds", &[("payment_intent", intent.into())])
        .await
        .error(400);
    assert_eq!(again["code"], "charge_already_refunded");

    let events = sim
        .get("/v1/events", &[("type", "charge.refunded")])
        .await
        .ok();
    let latest = &events["data"][0];
    assert_valid("event", latest);
    assert_valid("charge", &latest["data"]["object"]);
    assert_eq!(latest["data"]["object"]["amount_refunded"], 2500);
    assert_eq!(latest["data"]["object"]["refunded"], true);
    assert_eq!(
        latest["data"]["object"]["refunds"]["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let err = sim
        .post("/v1/refunds", &[("payment_intent", "pi_nope".into())])
        .await
        .error(400);
    assert_eq!(err["code"], "resource_missing");
    sim.shutdown().await;
}

#[tokio::test]
async fn events_are_listed_newest_first_and_filtered_by_type() {
    let sim = harness::start().await;
    sim.paid_session(&[("customer_creation", "always")]).await;
    let all = sim.get("/v1/events", &[("limit", "100")]).await.ok();
    let events = all["data"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "checkout.session.completed",
            "payment_intent.succeeded",
            "charge.succeeded",
            "customer.created",
            "payment_intent.created",
        ]
    );
    for event in events {
        assert_valid("event", event);
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        let object = &event["data"]["object"];
        let schema = object["object"].as_str().unwrap();
        assert_valid(schema, object);
    }
    let completed = sim
        .get("/v1/events", &[("type", "checkout.session.completed")])
        .await
        .ok();
    assert_eq!(completed["data"].as_array().unwrap().len(), 1);
    assert_eq!(completed["data"][0]["data"]["object"]["status"], "complete");
    let wildcard = sim
        .get("/v1/events", &[("type", "payment_intent.*")])
        .await
        .ok();
    assert_eq!(wildcard["data"].as_array().unwrap().len(), 2);
    let id = events[0]["id"].as_str().unwrap();
    assert_eq!(
        &sim.get(&format!("/v1/events/{id}"), &[]).await.ok(),
        &events[0]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn webhook_endpoints_reveal_their_secret_only_once() {
    let sim = harness::start().await;
    let endpoint = sim
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", "https://shop.test/webhooks/stripe".into()),
                ("enabled_events[]", "checkout.session.completed".into()),
                ("enabled_events[]", "checkout.session.expired".into()),
            ],
        )
        .await
        .ok();
    assert_valid("webhook_endpoint", &endpoint);
    assert!(endpoint["id"].as_str().unwrap().starts_with("we_"));
    assert!(endpoint["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(endpoint["status"], "enabled");
    assert_eq!(endpoint["enabled_events"][1], "checkout.session.expired");
    let list = sim.get("/v1/webhook_endpoints", &[]).await.ok();
    assert_eq!(list["data"][0]["id"], endpoint["id"]);
    assert!(list["data"][0].get("secret").is_none());
    let err = sim
        .post(
            "/v1/webhook_endpoints",
            &[("url", "https://shop.test/hook".into())],
        )
        .await
        .error(400);
    assert_eq!(err["message"], "Missing required param: enabled_events.");
    let err = sim
        .post(
            "/v1/webhook_endpoints",
            &[("url", "ftp://x".into()), ("enabled_events[]", "*".into())],
        )
        .await
        .error(400);
    assert_eq!(err["code"], "url_invalid");
    sim.shutdown().await;
}

#[tokio::test]
async fn keys_are_checked_before_anything_else() {
    let sim = harness::start().await;
    let reply = sim
        .post_as("/v1/checkout/sessions", &session_params(), "sk_test_", None)
        .await;
    reply.error(401);
    let reply = sim.post_as("/v1/customers", &[], KEY, None).await;
    assert_eq!(reply.ok()["object"], "customer");
    sim.shutdown().await;
}
