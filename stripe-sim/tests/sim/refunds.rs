//! Refunds: listing and retrieving them, Stripe's errors, and the refunds
//! that change later (the 5126 card's fail, the 7726 card's and bank debits'
//! are pending first).

use std::time::Duration;

use serde_json::{Value, json};
use stripe_sim::Config;

use crate::harness::{self, KEY, Sim, ids};
use crate::schema::assert_valid;

/// Settlement waits an hour: `/_sim/settle` decides when refunds change.
async fn start() -> Sim {
    harness::start_config(Config {
        settlement_delay: Duration::from_secs(3600),
        ..harness::test_config()
    })
    .await
}

/// Pays a session with `card` and returns its PaymentIntent id.
async fn paid_intent(sim: &Sim, card: &str) -> String {
    let session = sim.create_session(&[]).await;
    assert_eq!(sim.pay(&session, card).await.status(), 303);
    let session = sim.session(session["id"].as_str().unwrap()).await;
    session["payment_intent"].as_str().unwrap().to_owned()
}

async fn refund(sim: &Sim, params: &[(&'static str, &str)]) -> Value {
    let form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let refund = sim.post("/v1/refunds", &form).await.ok();
    assert_valid("refund", &refund);
    refund
}

/// The newest event of a type.
async fn latest(sim: &Sim, kind: &str) -> Value {
    let events = sim.get("/v1/events", &[("type", kind)]).await.ok();
    let event = events["data"][0].clone();
    assert_valid("event", &event);
    event
}

#[tokio::test]
async fn refunds_are_listed_retrieved_and_announced() {
    let sim = start().await;
    let first = paid_intent(&sim, "4242424242424242").await;
    let second = paid_intent(&sim, "4242424242424242").await;
    let a = refund(
        &sim,
        &[
            ("payment_intent", &first),
            ("amount", "500"),
            ("reason", "duplicate"),
            ("metadata[ticket]", "T1"),
        ],
    )
    .await;
    assert_eq!(
        (&a["status"], &a["reason"]),
        (&json!("succeeded"), &json!("duplicate"))
    );
    assert_eq!(a["metadata"], json!({ "ticket": "T1" }));
    let b = refund(&sim, &[("payment_intent", &first)]).await;
    assert_eq!(b["amount"], 2000, "what is left");
    let charge = a["charge"].as_str().unwrap().to_owned();
    let intent = sim
        .get(&format!("/v1/payment_intents/{second}"), &[])
        .await
        .ok();
    let c = refund(
        &sim,
        &[
            ("charge", intent["latest_charge"].as_str().unwrap()),
            ("amount", "100"),
        ],
    )
    .await;

    let all = sim.get("/v1/refunds", &[]).await.ok();
    assert_eq!(all["url"], "/v1/refunds");
    let (a_id, b_id, c_id) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    );
    assert_eq!(ids(&all), [c_id, b_id, a_id]);
    let of_first = sim
        .get("/v1/refunds", &[("payment_intent", &first)])
        .await
        .ok();
    assert_eq!(ids(&of_first), [b_id, a_id]);
    let of_charge = sim
        .get("/v1/refunds", &[("charge", &charge), ("limit", "1")])
        .await
        .ok();
    assert_eq!(
        (ids(&of_charge), &of_charge["has_more"]),
        (vec![b_id.to_owned()], &json!(true))
    );
    assert_eq!(sim.get(&format!("/v1/refunds/{a_id}"), &[]).await.ok(), a);
    let expanded = sim
        .get(&format!("/v1/refunds/{a_id}"), &[("expand[]", "charge")])
        .await
        .ok();
    assert_eq!(expanded["charge"]["amount_refunded"], 2500);
    let err = sim.get("/v1/refunds/re_nope", &[]).await.error(404);
    assert_eq!(err["message"], "No such refund: 're_nope'");

    // charge.refunded carries the cumulative amount; refund.created the refund.
    let refunded = latest(&sim, "charge.refunded").await;
    let object = &refunded["data"]["object"];
    assert_valid("charge", object);
    assert_eq!(
        (&object["amount_refunded"], &object["refunded"]),
        (&json!(100), &json!(false))
    );
    let events = sim
        .get("/v1/events", &[("type", "charge.refunded"), ("limit", "3")])
        .await
        .ok();
    let totals: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["data"]["object"]["amount_refunded"])
        .collect();
    assert_eq!(totals, [&json!(100), &json!(2500), &json!(500)]);
    let created = latest(&sim, "refund.created").await;
    assert_eq!(created["data"]["object"]["id"], c_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_refunds_get_stripes_errors() {
    let sim = start().await;
    let intent = paid_intent(&sim, "4242424242424242").await;
    let charge = sim
        .get(&format!("/v1/payment_intents/{intent}"), &[])
        .await
        .ok()["latest_charge"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = &sim;
    let post = |params: Vec<(&'static str, String)>| async move {
        client.post("/v1/refunds", &params).await
    };
    let err = post(vec![
        ("payment_intent", intent.clone()),
        ("amount", "2501".into()),
    ])
    .await
    .error(400);
    assert_eq!(err["param"], "amount");
    assert_eq!(
        err["message"],
        "Refund amount ($25.01) is greater than unrefunded amount on charge ($25.00)"
    );
    let err = post(vec![
        ("payment_intent", intent.clone()),
        ("amount", "0".into()),
    ])
    .await
    .error(400);
    assert_eq!(err["param"], "amount");
    let err = post(vec![
        ("payment_intent", intent.clone()),
        ("charge", charge.clone()),
    ])
    .await
    .error(400);
    assert_eq!(err["param"], "charge");
    post(vec![]).await.error(400);
    let err = post(vec![("charge", "ch_nope".into())]).await.error(400);
    assert_eq!(
        (&err["code"], &err["param"]),
        (&json!("resource_missing"), &json!("charge"))
    );
    let err = post(vec![("payment_intent", "pi_nope".into())])
        .await
        .error(400);
    assert_eq!(err["code"], "resource_missing");
    // A declined payment has no charge to refund.
    let session = sim.create_session(&[]).await;
    sim.pay(&session, "4000000000000002").await;
    let failed = latest(&sim, "charge.failed").await;
    let failed_charge = failed["data"]["object"]["id"].as_str().unwrap().to_owned();
    let err = post(vec![("charge", failed_charge.clone())])
        .await
        .error(400);
    assert_eq!(
        err["message"],
        format!("Charge {failed_charge} has failed and cannot be refunded.")
    );
    // A refund is made once for an Idempotency-Key, then replayed.
    let form = [("payment_intent", intent.clone()), ("amount", "100".into())];
    let first = sim
        .post_as("/v1/refunds", &form, KEY, Some("refund-1"))
        .await
        .ok();
    let again = sim
        .post_as("/v1/refunds", &form, KEY, Some("refund-1"))
        .await;
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.ok()["id"], first["id"]);
    let rest = post(vec![("payment_intent", intent.clone())]).await.ok();
    assert_eq!(rest["amount"], 2400);
    let err = post(vec![("charge", charge)]).await.error(400);
    assert_eq!(err["code"], "charge_already_refunded");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refund_of_the_5126_card_succeeds_then_fails() {
    let sim = start().await;
    let intent = paid_intent(&sim, "4000 0000 0000 5126").await;
    let made = refund(&sim, &[("payment_intent", &intent)]).await;
    assert_eq!(made["status"], "succeeded");
    let charge_id = made["charge"].as_str().unwrap().to_owned();
    let charge = sim
        .get(
            &format!("/v1/payment_intents/{intent}"),
            &[("expand[]", "latest_charge")],
        )
        .await
        .ok();
    assert_eq!(charge["latest_charge"]["refunded"], true);

    let settled = sim.admin("settle", json!({})).await;
    assert_eq!(settled["settled"], json!([made["id"]]));
    let id = made["id"].as_str().unwrap();
    let failed = sim.get(&format!("/v1/refunds/{id}"), &[]).await.ok();
    assert_valid("refund", &failed);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "expired_or_canceled_card");
    let charge = sim
        .get(
            &format!("/v1/payment_intents/{intent}"),
            &[("expand[]", "latest_charge")],
        )
        .await
        .ok();
    let charge = &charge["latest_charge"];
    assert_eq!(
        (&charge["amount_refunded"], &charge["refunded"]),
        (&json!(0), &json!(false))
    );
    assert_eq!(charge["refunds"]["data"][0]["status"], "failed");
    for kind in ["refund.updated", "charge.refund.updated"] {
        let event = latest(&sim, kind).await;
        assert_eq!(event["data"]["object"]["status"], "failed", "{kind}");
        assert_eq!(
            event["data"]["previous_attributes"],
            json!({ "status": "succeeded" }),
            "{kind}"
        );
    }
    assert_eq!(
        latest(&sim, "refund.failed").await["data"]["object"]["id"],
        id
    );
    // The money is back on the charge, so it can be refunded again.
    let again = refund(&sim, &[("charge", &charge_id), ("amount", "100")]).await;
    assert_eq!(again["status"], "succeeded");
    sim.shutdown().await;
}

#[tokio::test]
async fn pending_refunds_settle_later() {
    let sim = start().await;
    let intent = paid_intent(&sim, "4000000000007726").await;
    let pending = refund(&sim, &[("payment_intent", &intent), ("amount", "1000")]).await;
    assert_eq!(pending["status"], "pending");
    // A refund's amount is taken from the charge at once, pending or not.
    let charge = sim
        .get(
            &format!("/v1/payment_intents/{intent}"),
            &[("expand[]", "latest_charge")],
        )
        .await
        .ok();
    assert_eq!(charge["latest_charge"]["amount_refunded"], 1000);
    sim.admin("settle", json!({})).await;
    let id = pending["id"].as_str().unwrap();
    assert_eq!(
        sim.get(&format!("/v1/refunds/{id}"), &[]).await.ok()["status"],
        "succeeded"
    );
    let updated = latest(&sim, "refund.updated").await;
    assert_eq!(
        updated["data"]["previous_attributes"],
        json!({ "status": "pending" })
    );
    let types = sim.event_types().await;
    assert!(!types.contains(&"refund.failed".to_owned()));

    // A bank debit is refunded only once it succeeded, and its refund is pending first.
    let session = sim.create_session(&[]).await;
    let debit = [
        ("payment_method", "us_bank_account"),
        ("routing_number", "110000000"),
        ("account_number", "000123456789"),
    ];
    assert_eq!(sim.pay_form(&session, &debit).await.status(), 303);
    let session = sim.session(session["id"].as_str().unwrap()).await;
    let processing = session["payment_intent"].as_str().unwrap().to_owned();
    let err = sim
        .post("/v1/refunds", &[("payment_intent", processing.clone())])
        .await
        .error(400);
    assert_eq!(err["param"], "payment_intent");
    sim.admin("settle", json!({})).await;
    let bank = refund(&sim, &[("payment_intent", &processing)]).await;
    assert_eq!(bank["status"], "pending");
    sim.admin("settle", json!({})).await;
    let id = bank["id"].as_str().unwrap();
    assert_eq!(
        sim.get(&format!("/v1/refunds/{id}"), &[]).await.ok()["status"],
        "succeeded"
    );
    sim.shutdown().await;
}
