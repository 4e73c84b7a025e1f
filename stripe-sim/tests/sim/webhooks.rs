//! Signed webhook delivery, checked by an independent receiver.

use std::time::Duration;

use crate::harness::{self, Sim, now};
use crate::receiver::{Receiver, verify};
use crate::schema::assert_valid;

/// Registers `receiver` for `events` and returns the endpoint's secret.
pub async fn subscribe(sim: &Sim, receiver: &Receiver, events: &[&str]) -> String {
    let mut form = vec![("url", receiver.url.clone())];
    form.extend(events.iter().map(|e| ("enabled_events[]", (*e).to_owned())));
    let endpoint = sim.post("/v1/webhook_endpoints", &form).await.ok();
    endpoint["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn events_arrive_signed_with_the_endpoint_secret() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[]).await;
    let secret = subscribe(&sim, &receiver, &["checkout.session.completed"]).await;
    let session = sim
        .paid_session(&[("client_reference_id", "order_9")])
        .await;

    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let delivery = &received[0];
    assert_eq!(delivery.content_type, "application/json; charset=utf-8");
    assert!(delivery.user_agent.starts_with("Stripe/1.0"));
    let t = verify(&delivery.signature, &delivery.body, &secret, now(), 300)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!((t - now()).abs() <= 5);
    // The signature covers these exact bytes; a wrong secret fails.
    assert!(
        verify(
            &delivery.signature,
            &delivery.body,
            "whsec_wrong",
            now(),
            300
        )
        .is_err()
    );
    let mut tampered = delivery.body.clone();
    tampered.push(b' ');
    assert!(verify(&delivery.signature, &tampered, &secret, now(), 300).is_err());

    let event = delivery.json();
    assert_valid("event", &event);
    assert_eq!(event["type"], "checkout.session.completed");
    assert_eq!(event["pending_webhooks"], 1);
    let object = &event["data"]["object"];
    assert_valid("checkout.session", object);
    assert_eq!(object["id"], session["id"]);
    assert_eq!(object["client_reference_id"], "order_9");
    assert_eq!(object["payment_status"], "paid");

    // Only subscribed types are sent, and the log shows the delivery.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    let log = sim.deliveries_until(1).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["event_id"], event["id"]);
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["outcome"], "delivered");
    let stored = sim
        .get(
            &format!("/v1/events/{}", event["id"].as_str().unwrap()),
            &[],
        )
        .await
        .ok();
    assert_eq!(stored["pending_webhooks"], 0);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wildcard_endpoint_gets_every_event_and_expiry_is_announced() {
    let sim = harness::start().await;
    let everything = Receiver::start(&[]).await;
    let expiries = Receiver::start(&[]).await;
    let all_secret = subscribe(&sim, &everything, &["*"]).await;
    subscribe(&sim, &expiries, &["checkout.session.expired"]).await;
    let session = sim.create_session(&[]).await;
    let id = session["id"].as_str().unwrap();
    sim.post(&format!("/v1/checkout/sessions/{id}/expire"), &[])
        .await
        .ok();
    sim.post("/v1/customers", &[("email", "a@example.com".into())])
        .await
        .ok();

    let received = everything.wait_for(2).await;
    let mut types: Vec<String> = received
        .iter()
        .map(|r| {
            verify(&r.signature, &r.body, &all_secret, now(), 300).unwrap();
            r.json()["type"].as_str().unwrap().to_owned()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["checkout.session.expired", "customer.created"]);
    let expired = expiries.wait_for(1).await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].json()["data"]["object"]["status"], "expired");
    everything.stop().await;
    expiries.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_growing_delays() {
    let sim = harness::start().await;
    let receiver = Receiver::start(&[500, 503]).await;
    let secret = subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.post("/v1/customers", &[]).await.ok();

    let received = receiver.wait_for(3).await;
    assert_eq!(received.len(), 3);
    let ids: Vec<_> = received.iter().map(|r| r.json()["id"].clone()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the same event each time"
    );
    for r in &received {
        verify(&r.signature, &r.body, &secret, now(), 300).unwrap();
    }
    // Base 100 ms in tests: the waits are about 100 ms then 200 ms.
    let first_gap = received[1].at - received[0].at;
    let second_gap = received[2].at - received[1].at;
    assert!(first_gap >= Duration::from_millis(90), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(190), "{second_gap:?}");
    let log = sim.deliveries_until(3).await;
    let attempts: Vec<(u64, u64)> = log
        .iter()
        .map(|d| {
            (
                d["attempt"].as_u64().unwrap(),
                d["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, 500), (2, 503), (3, 200)]);
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn delivery_gives_up_after_the_last_attempt() {
    let sim = harness::start_with(3).await;
    let receiver = Receiver::start(&[500; 10]).await;
    subscribe(&sim, &receiver, &["customer.created"]).await;
    sim.post("/v1/customers", &[]).await.ok();
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 3);
    let log = sim.deliveries_until(3).await;
    assert!(log.iter().all(|d| d["outcome"] == "failed"));
    assert_eq!(log.len(), 3);
    receiver.stop().await;

    // A receiver that is not listening at all counts as a failure too.
    let sim2 = harness::start_with(2).await;
    sim2.post(
        "/v1/webhook_endpoints",
        &[
            ("url", "http://127.0.0.1:9/nothing".into()),
            ("enabled_events[]", "*".into()),
        ],
    )
    .await
    .ok();
    sim2.post("/v1/customers", &[]).await.ok();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let log = sim2.deliveries_until(2).await;
    assert_eq!(log.len(), 2);
    assert!(log[0]["status"].is_null() && log[0]["error"].is_string());
    sim2.shutdown().await;
    sim.shutdown().await;
}
