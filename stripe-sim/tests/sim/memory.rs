//! The memory bound: `Config::max_objects` and `Config::retention`.

use std::time::Duration;

use serde_json::{Value, json};
use stripe_sim::Config;

use crate::harness::{self, KEY, Sim, ids};

async fn stats(sim: &Sim) -> Value {
    let response = sim
        .http
        .get(format!("{}/_sim/stats", sim.base))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Runs the once-a-second sweep now.
async fn sweep(sim: &Sim) {
    sim.admin("advance_clock", json!({ "seconds": 0 })).await;
}

/// Every session id, newest first, read two at a time.
async fn all_sessions(sim: &Sim) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(last) = all.last() {
            query.push(("starting_after", last.as_str()));
        }
        let list = sim.get("/v1/checkout/sessions", &query).await.ok();
        let mut page = ids(&list);
        let more = list["has_more"] == true;
        all.append(&mut page);
        if !more {
            return all;
        }
    }
}

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn beyond_the_cap_the_oldest_final_objects_go_and_open_sessions_stay() {
    let sim = harness::start_config(Config {
        max_objects: 5,
        ..harness::test_config()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(id(&sim.create_session(&[]).await));
    }
    let mut paid = Vec::new();
    for i in 0..6 {
        let key = format!("pay-{i}");
        let session = sim
            .post_as(
                "/v1/checkout/sessions",
                &harness::session_params(),
                KEY,
                Some(&key),
            )
            .await
            .ok();
        assert_eq!(sim.pay(&session, "4242424242424242").await.status(), 303);
        paid.push(sim.session(session["id"].as_str().unwrap()).await);
    }
    sweep(&sim).await;

    let counts = stats(&sim).await;
    assert_eq!(counts["checkout_sessions"], 5, "{counts}");
    for kind in [
        "payment_intents",
        "events",
        "idempotency_keys",
        "payment_methods",
    ] {
        assert!(counts[kind].as_u64().unwrap() <= 5, "{kind}: {counts}");
    }
    // Charges go with their intents.
    assert_eq!(counts["charges"], counts["payment_intents"], "{counts}");
    // Over by four: the four oldest paid sessions went, the open ones stayed.
    for session in &open {
        assert_eq!(sim.session(session).await["status"], "open");
    }
    for gone in &paid[..4] {
        let id = gone["id"].as_str().unwrap();
        sim.get(&format!("/v1/checkout/sessions/{id}"), &[])
            .await
            .error(404);
    }
    let kept: Vec<String> = paid[4..].iter().map(id).collect();
    for session in &kept {
        assert_eq!(sim.session(session).await["payment_status"], "paid");
    }
    // The newest intent is kept with its session; lists skip what went.
    let intent = paid[5]["payment_intent"].as_str().unwrap();
    sim.get(&format!("/v1/payment_intents/{intent}"), &[])
        .await
        .ok();
    let expected: Vec<String> = [kept[1].clone(), kept[0].clone()]
        .into_iter()
        .chain(open.iter().rev().cloned())
        .collect();
    assert_eq!(all_sessions(&sim).await, expected);
    let events = sim.get("/v1/events", &[("limit", "100")]).await.ok();
    assert_eq!(
        events["data"].as_array().unwrap().len() as u64,
        stats(&sim).await["events"].as_u64().unwrap()
    );
    // A cursor that went is Stripe's "No such" error.
    let err = sim
        .get(
            "/v1/checkout/sessions",
            &[("starting_after", paid[0]["id"].as_str().unwrap())],
        )
        .await
        .error(400);
    assert_eq!(err["code"], "resource_missing");
    assert_eq!(err["param"], "starting_after");

    // Open sessions are never dropped, even beyond the cap.
    for _ in 0..4 {
        open.push(id(&sim.create_session(&[]).await));
    }
    sweep(&sim).await;
    assert_eq!(stats(&sim).await["checkout_sessions"], 7);
    for session in &open {
        assert_eq!(sim.session(session).await["status"], "open");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn final_objects_and_events_older_than_the_retention_go() {
    let sim = harness::start_config(Config {
        retention: Duration::from_secs(3600),
        ..harness::test_config()
    })
    .await;
    let paid = sim.paid_session(&[("customer_creation", "always")]).await;
    let open = sim.create_session(&[]).await;
    assert!(stats(&sim).await["events"].as_u64().unwrap() >= 4);

    sim.admin("advance_clock", json!({ "seconds": 3601 })).await;
    let counts = stats(&sim).await;
    assert_eq!(counts["events"], 0, "{counts}");
    assert_eq!(counts["payment_intents"], 0, "{counts}");
    assert_eq!(counts["charges"], 0, "{counts}");
    let paid_id = paid["id"].as_str().unwrap();
    sim.get(&format!("/v1/checkout/sessions/{paid_id}"), &[])
        .await
        .error(404);
    // The open session has 23 hours left; customers are never final.
    assert_eq!(sim.session(&id(&open)).await["status"], "open");
    let customer = paid["customer"].as_str().unwrap();
    sim.get(&format!("/v1/customers/{customer}"), &[])
        .await
        .ok();
    sim.shutdown().await;
}

#[tokio::test]
async fn the_delivery_log_keeps_the_newest_entries() {
    let sim = harness::start_config(Config {
        max_objects: 3,
        ..harness::test_config()
    })
    .await;
    sim.admin("faults", json!({ "webhook_drop": true })).await;
    sim.post(
        "/v1/webhook_endpoints",
        &[
            ("url", "http://127.0.0.1:9/hook".into()),
            ("enabled_events[]", "*".into()),
        ],
    )
    .await
    .ok();
    for _ in 0..5 {
        sim.post("/v1/customers", &[]).await.ok();
    }
    let log = sim.deliveries().await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[2]["outcome"], "dropped");
    let events = sim.get("/v1/events", &[]).await.ok();
    let latest = &events["data"][0]["id"];
    assert_eq!(&log[2]["event_id"], latest);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_intent_waiting_on_3d_secure_goes_once_its_session_cannot_be_paid() {
    let sim = harness::start_config(Config {
        max_objects: 1,
        ..harness::test_config()
    })
    .await;
    let waiting = sim.create_session(&[]).await;
    assert_eq!(sim.pay(&waiting, "4000002500003155").await.status(), 200);
    let intent = sim
        .get("/v1/events", &[("type", "payment_intent.requires_action")])
        .await
        .ok()["data"][0]["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.paid_session(&[]).await;
    sweep(&sim).await;
    // The open session may still be authenticated: its intent stays.
    sim.get(&format!("/v1/payment_intents/{intent}"), &[])
        .await
        .ok();
    let id = waiting["id"].as_str().unwrap();
    sim.post(&format!("/v1/checkout/sessions/{id}/expire"), &[])
        .await
        .ok();
    // Over the cap again: now the oldest, it is final and goes.
    sim.paid_session(&[]).await;
    sweep(&sim).await;
    sim.get(&format!("/v1/payment_intents/{intent}"), &[])
        .await
        .error(404);
    assert_eq!(stats(&sim).await["payment_intents"], 1);
    sim.shutdown().await;
}
