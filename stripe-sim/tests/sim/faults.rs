//! The `/_sim` knobs: latency, error rate, webhook faults, clock offset and advance.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{self, now};
use crate::receiver::{Receiver, verify};
use crate::webhooks::subscribe;

#[tokio::test]
async fn latency_slows_api_requests_until_reset() {
    let sim = harness::start().await;
    let faults = sim.admin("faults", json!({ "latency_ms": 1000 })).await;
    assert_eq!(faults["latency_ms"], 1000);
    assert_eq!(faults["error_rate"], 0, "other knobs keep their values");
    let started = Instant::now();
    sim.get("/v1/customers", &[]).await.ok();
    assert!(started.elapsed() >= Duration::from_millis(1000));
    sim.admin("reset", json!({})).await;
    let started = Instant::now();
    sim.get("/v1/customers", &[]).await.ok();
    assert!(started.elapsed() < Duration::from_millis(700));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_is_carried_out_even_when_its_client_stops_waiting() {
    let sim = harness::start().await;
    sim.admin("faults", json!({ "latency_ms": 800 })).await;
    let impatient = sim
        .http
        .post(format!("{}/v1/checkout/sessions", sim.base))
        .basic_auth(harness::KEY, None::<&str>)
        .form(&harness::session_params())
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());

    tokio::time::sleep(Duration::from_millis(1000)).await;
    sim.admin("reset", json!({})).await;
    let sessions = sim.get("/v1/checkout/sessions", &[]).await.ok();
    assert_eq!(
        sessions["data"].as_array().unwrap().len(),
        1,
        "created all the same"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_error_rate_fails_a_predictable_share_of_api_requests() {
    let sim = harness::start().await;
    sim.admin("faults", json!({ "error_rate": 50 })).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = sim.get("/v1/customers", &[]).await;
        if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
            assert_eq!(reply.header("Stripe-Should-Retry"), Some("true"));
            let err = reply.error(500);
            assert_eq!(err["type"], "api_error");
            statuses.push(500);
        } else {
            statuses.push(reply.status.as_u16());
        }
    }
    assert_eq!(statuses, [200, 500, 200, 500, 200, 500]);
    // The pages and the admin endpoints are not affected.
    let session_page = sim
        .http
        .get(format!("{}/c/pay/cs_test_x", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(session_page.status(), StatusCode::NOT_FOUND);

    sim.admin("faults", json!({ "error_rate": 100, "error_status": 429 }))
        .await;
    let err = sim.get("/v1/customers", &[]).await.error(429);
    assert_eq!(err["code"], "rate_limit");
    assert_eq!(err["type"], "invalid_request_error");
    sim.admin("faults", json!({ "error_rate": 100, "error_status": 400 }))
        .await;
    let err = sim.get("/v1/customers", &[]).await.error(400);
    assert_eq!(err["type"], "invalid_request_error");
    sim.admin("faults", json!({ "error_rate": 100, "error_status": 409 }))
        .await;
    let err = sim.get("/v1/customers", &[]).await.error(409);
    assert_eq!(err["code"], "idempotency_key_in_use");
    sim.admin("faults", json!({ "error_rate": 100, "error_status": 401 }))
        .await;
    sim.get("/v1/customers", &[]).await.error(401);

    // An injected failure is not stored against the idempotency key.
    sim.admin("faults", json!({ "error_rate": 50, "error_status": 500 }))
        .await;
    let first = sim
        .post_as("/v1/customers", &[], harness::KEY, Some("retry-me"))
        .await;
    assert_eq!(first.status, 200);
    let failed = sim
        .post_as("/v1/customers", &[], harness::KEY, Some("retry-me-2"))
        .await;
    assert_eq!(failed.status, 500);
    let retried = sim
        .post_as("/v1/customers", &[], harness::KEY, Some("retry-me-2"))
        .await;
    assert_eq!(retried.status, 200);
    assert_eq!(retried.header("Idempotent-Replayed"), None);

    sim.admin("reset", json!({})).await;
    for _ in 0..4 {
        sim.get("/v1/customers", &[]).await.ok();
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_settings_are_validated() {
    let sim = harness::start().await;
    for body in [
        json!({ "error_rate": 101 }),
        json!({ "error_status": 503 }),
        json!({ "latency": 5 }),
    ] {
        let response = sim
            .http
            .post(format!("{}/_sim/faults", sim.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let current: serde_json::Value = sim
        .http
        .get(format!("{}/_sim/faults", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["error_rate"], 0);
    assert_eq!(current["error_status"], 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_delivery_sends_each_event_twice() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[]).await;
    let secret = subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.admin("faults", json!({ "webhook_duplicate": true }))
        .await;
    sim.post("/v1/customers", &[]).await.ok();
    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].json()["id"], received[1].json()["id"]);
    for r in &received {
        verify(&r.signature, &r.body, &secret, now(), 300).unwrap();
    }
    let log = sim.deliveries_until(2).await;
    assert_eq!(log[1]["duplicate"], true);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn out_of_order_delivery_sends_held_events_newest_first() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[]).await;
    subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.admin("faults", json!({ "webhook_out_of_order": true }))
        .await;
    let mut created = Vec::new();
    for email in [
        "first@example.com",
        "second@example.com",
        "third@example.com",
    ] {
        let customer = sim
            .post("/v1/customers", &[("email", email.into())])
            .await
            .ok();
        created.push(customer["id"].clone());
    }
    let received = receiver.wait_for(3).await;
    let order: Vec<_> = received
        .iter()
        .map(|r| r.json()["data"]["object"]["id"].clone())
        .collect();
    created.reverse();
    assert_eq!(order, created);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_deliveries_never_arrive_but_are_logged() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[]).await;
    subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.admin("faults", json!({ "webhook_drop": true })).await;
    sim.post("/v1/customers", &[]).await.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
    let log = sim.deliveries().await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["outcome"], "dropped");
    assert_eq!(log[0]["event_type"], "customer.created");
    // Events still exist in the API.
    let events = sim.get("/v1/events", &[]).await.ok();
    assert_eq!(events["data"][0]["type"], "customer.created");
    sim.admin("reset", json!({})).await;
    sim.post("/v1/customers", &[]).await.ok();
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_clock_offset_moves_signature_timestamps_out_of_tolerance() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[]).await;
    let secret = subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.admin("faults", json!({ "clock_offset_secs": -600 }))
        .await;
    let customer = sim.post("/v1/customers", &[]).await.ok();
    assert!((customer["created"].as_i64().unwrap() - (now() - 600)).abs() <= 5);
    let received = receiver.wait_for(1).await;
    let r = &received[0];
    let err = verify(&r.signature, &r.body, &secret, now(), 300).unwrap_err();
    assert!(err.contains("tolerance"), "{err}");
    // The HMAC itself is still right: only the timestamp is off.
    let t = verify(&r.signature, &r.body, &secret, now() - 600, 300).unwrap();
    assert!((t - (now() - 600)).abs() <= 5);
    let log = sim.deliveries_until(1).await;
    assert_eq!(log[0]["signature_timestamp"], t);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn advancing_the_clock_expires_sessions_at_once() {
    let sim = harness::start().await;
    // A minute over the 30-minute minimum, so a second ticking over cannot
    // make it too soon.
    let at = (now() + 1860).to_string();
    let short = sim.create_session(&[("expires_at", &at)]).await;
    let long = sim.create_session(&[]).await;
    let moved = sim.admin("advance_clock", json!({ "seconds": 1861 })).await;
    assert!((moved["now"].as_i64().unwrap() - (now() + 1861)).abs() <= 5);
    let short = sim.session(short["id"].as_str().unwrap()).await;
    assert_eq!(short["status"], "expired");
    assert_eq!(short["url"], serde_json::Value::Null);
    let long = sim.session(long["id"].as_str().unwrap()).await;
    assert_eq!(long["status"], "open");
    let expired = sim
        .get("/v1/events", &[("type", "checkout.session.expired")])
        .await
        .ok();
    assert_eq!(expired["data"].as_array().unwrap().len(), 1);
    assert_eq!(expired["data"][0]["data"]["object"]["id"], short["id"]);
    let page = sim
        .http
        .get(format!(
            "{}/c/pay/{}",
            sim.base,
            short["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    let response = sim
        .http
        .post(format!("{}/_sim/advance_clock", sim.base))
        .json(&json!({ "seconds": -5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_background_clock_expires_sessions_without_a_request() {
    let sim = harness::start().await;
    // A minute over Stripe's 30-minute minimum: a second ticking over
    // between here and the simulator must not make it too soon.
    let at = (now() + 1860).to_string();
    let session = sim.create_session(&[("expires_at", &at)]).await;
    let id = session["id"].as_str().unwrap();
    // An offset moves "now" without sweeping, so only the ticker can expire it.
    sim.admin("faults", json!({ "clock_offset_secs": 1960 }))
        .await;
    // It ticks every second; the bound only stops a broken run.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if sim.session(id).await["status"] == "expired" {
            break;
        }
        assert!(Instant::now() < deadline, "not expired by the ticker");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.shutdown().await;
}
