//! Bank debits on the hosted page: the session completes unpaid, then the
//! debit settles (after `settlement_delay`, or at once with `/_sim/settle`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_sim::Config;

use crate::checkout::{page, tag};
use crate::harness::{self, Sim};
use crate::receiver::Receiver;
use crate::schema::assert_valid;
use crate::webhooks::subscribe;

/// Settlement waits an hour of simulated time: only `/_sim/settle` (or
/// advancing the clock) settles.
async fn start() -> Sim {
    harness::start_config(Config {
        settlement_delay: Duration::from_secs(3600),
        ..harness::test_config()
    })
    .await
}

async fn pay_by_ach(sim: &Sim, session: &Value, account: &str) -> reqwest::Response {
    sim.pay_form(
        session,
        &[
            ("payment_method", "us_bank_account"),
            ("routing_number", "110000000"),
            ("account_number", account),
        ],
    )
    .await
}

async fn intent(sim: &Sim, session: &Value) -> Value {
    let id = session["payment_intent"].as_str().unwrap();
    let intent = sim
        .get(
            &format!("/v1/payment_intents/{id}"),
            &[
                ("expand[]", "latest_charge"),
                ("expand[]", "payment_method"),
            ],
        )
        .await
        .ok();
    assert_valid("payment_intent", &intent);
    assert_valid("charge", &intent["latest_charge"]);
    assert_valid("payment_method", &intent["payment_method"]);
    intent
}

async fn settle(sim: &Sim) -> Value {
    sim.admin("settle", json!({})).await
}

#[tokio::test]
async fn the_page_offers_the_bank_debit_of_the_currency() {
    let sim = start().await;
    let session = sim.create_session(&[]).await;
    let html = page(&sim, &session).await;
    assert!(html.contains("<legend>Payment method</legend>"));
    assert!(tag(&html, "method_card").contains("checked"));
    assert!(!tag(&html, "method_us_bank_account").contains("checked"));
    for field in ["routing_number", "account_number", "card_number"] {
        assert!(
            html.contains(&format!(r#"<label for="{field}">"#)),
            "{field}"
        );
    }
    assert!(!html.contains("iban"));
    // Wrong test numbers are refused inline.
    for (fields, message) in [
        (
            vec![
                ("routing_number", "123456789"),
                ("account_number", "000123456789"),
            ],
            "Your routing number is incorrect.",
        ),
        (
            vec![("routing_number", "110000000"), ("account_number", "1234")],
            "Your account number is incorrect.",
        ),
    ] {
        let mut form = vec![("payment_method", "us_bank_account")];
        form.extend(fields);
        let response = sim.pay_form(&session, &form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains(message));
    }
    let response = sim
        .pay_form(&session, &[("payment_method", "sepa_debit")])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let err = sim
        .post(
            "/v1/checkout/sessions",
            &[
                harness::session_params(),
                vec![("payment_method_types[0]", "sepa_debit".to_owned())],
            ]
            .concat(),
        )
        .await
        .error(400);
    assert_eq!(err["param"], "payment_method_types");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("only supports the following currencies: eur")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_debit_completes_the_session_unpaid_then_succeeds() {
    let sim = start().await;
    let session = sim.create_session(&[("customer_creation", "always")]).await;
    let id = session["id"].as_str().unwrap();
    let response = pay_by_ach(&sim, &session, "000123456789").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let complete = sim.session(id).await;
    assert_valid("checkout.session", &complete);
    assert_eq!(complete["status"], "complete");
    assert_eq!(complete["payment_status"], "unpaid");
    let processing = intent(&sim, &complete).await;
    assert_eq!(processing["status"], "processing");
    assert_eq!(
        processing["payment_method_types"],
        json!(["card", "us_bank_account"])
    );
    assert_eq!(processing["latest_charge"]["status"], "pending");
    let method = &processing["payment_method"];
    assert_eq!(method["type"], "us_bank_account");
    assert_eq!(method["us_bank_account"]["last4"], "6789");
    assert_eq!(method["us_bank_account"]["routing_number"], "110000000");
    assert_eq!(
        sim.event_types().await,
        [
            "checkout.session.completed",
            "charge.pending",
            "payment_intent.processing",
            "customer.created",
            "payment_intent.created",
        ]
    );
    // Nothing settles before the delay.
    sim.admin("advance_clock", json!({ "seconds": 60 })).await;
    assert_eq!(sim.session(id).await["payment_status"], "unpaid");

    let settled = settle(&sim).await;
    assert_eq!(settled["settled"], json!([processing["id"]]));
    let paid = sim.session(id).await;
    assert_eq!(paid["payment_status"], "paid");
    let succeeded = intent(&sim, &paid).await;
    assert_eq!(succeeded["status"], "succeeded");
    assert_eq!(succeeded["amount_received"], 2500);
    let charge = &succeeded["latest_charge"];
    assert_eq!(
        (&charge["status"], &charge["paid"]),
        (&json!("succeeded"), &json!(true))
    );
    assert_eq!(charge["payment_method_details"]["type"], "us_bank_account");
    assert_eq!(
        charge["id"], processing["latest_charge"]["id"],
        "the pending charge settled"
    );
    let types = sim.event_types().await;
    assert_eq!(
        &types[..3],
        [
            "checkout.session.async_payment_succeeded",
            "payment_intent.succeeded",
            "charge.succeeded"
        ]
    );
    let event = sim
        .get(
            "/v1/events",
            &[("type", "checkout.session.async_payment_succeeded")],
        )
        .await
        .ok();
    assert_eq!(event["data"][0]["data"]["object"]["payment_status"], "paid");
    // Settling again has nothing left to do.
    assert_eq!(settle(&sim).await["settled"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_debit_from_the_failing_account_leaves_the_session_unpaid() {
    let sim = start().await;
    let session = sim.create_session(&[]).await;
    let id = session["id"].as_str().unwrap();
    assert_eq!(
        pay_by_ach(&sim, &session, "000111111116").await.status(),
        StatusCode::SEE_OTHER
    );
    settle(&sim).await;
    let failed = sim.session(id).await;
    assert_eq!(
        (&failed["status"], &failed["payment_status"]),
        (&json!("complete"), &json!("unpaid"))
    );
    let intent = intent(&sim, &failed).await;
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(intent["last_payment_error"]["code"], "no_account");
    assert_eq!(intent["latest_charge"]["status"], "failed");
    assert_eq!(intent["latest_charge"]["failure_code"], "no_account");
    let types = sim.event_types().await;
    assert_eq!(
        &types[..3],
        [
            "checkout.session.async_payment_failed",
            "payment_intent.payment_failed",
            "charge.failed"
        ]
    );
    // Paid or not, a complete session cannot be paid again.
    assert_eq!(
        pay_by_ach(&sim, &session, "000123456789").await.status(),
        StatusCode::CONFLICT
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn debits_settle_by_themselves_after_the_delay() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("line_items[0][price_data][currency]", "eur"),
            ("payment_method_types[0]", "sepa_debit"),
        ])
        .await;
    let html = page(&sim, &session).await;
    assert!(
        !html.contains("name=\"payment_method\""),
        "one method, no choice"
    );
    let response = sim
        .pay_form(
            &session,
            &[
                ("payment_method", "sepa_debit"),
                ("iban", "DE89 3704 0044 0532 0130 00"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = session["id"].as_str().unwrap();
    let processing = sim.session(id).await;
    assert_eq!(
        intent(&sim, &processing).await["payment_method"]["sepa_debit"]["last4"],
        "3000"
    );
    // The default delay is 3 s of simulated time.
    sim.admin("advance_clock", json!({ "seconds": 3 })).await;
    assert_eq!(sim.session(id).await["payment_status"], "paid");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_async_result_can_be_read_back_from_the_session() {
    let sim = start().await;
    let receiver = Receiver::start(&[]).await;
    subscribe(&sim, &receiver, &["*"]).await;
    sim.admin(
        "faults",
        json!({ "webhook_drop_types": ["checkout.session.async_payment_succeeded"] }),
    )
    .await;
    let session = sim.create_session(&[]).await;
    pay_by_ach(&sim, &session, "000123456789").await;
    settle(&sim).await;
    let log = sim.deliveries_until(7).await;
    let dropped: Vec<&Value> = log.iter().filter(|d| d["outcome"] == "dropped").collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        dropped[0]["event_type"],
        "checkout.session.async_payment_succeeded"
    );
    let received: Vec<String> = receiver
        .wait_for(6)
        .await
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(received.contains(&"payment_intent.succeeded".to_owned()));
    assert!(!received.contains(&"checkout.session.async_payment_succeeded".to_owned()));
    // The session tells the truth when retrieved.
    let id = session["id"].as_str().unwrap();
    assert_eq!(sim.session(id).await["payment_status"], "paid");
    let faults = sim.admin("reset", json!({})).await;
    assert_eq!(faults["webhook_drop_types"], json!([]));
    receiver.stop().await;
    sim.shutdown().await;
}
