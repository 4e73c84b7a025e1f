//! `Idempotency-Key`: replays, mismatches, keys in flight, per-key scoping.

use std::time::Duration;

use serde_json::json;

use crate::harness::{self, KEY, session_params};

async fn session_count(sim: &harness::Sim) -> usize {
    let list = sim
        .get("/v1/checkout/sessions", &[("limit", "100")])
        .await
        .ok();
    list["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn the_same_key_and_parameters_replay_the_first_response() {
    let sim = harness::start().await;
    let first = sim
        .post_as(
            "/v1/checkout/sessions",
            &session_params(),
            KEY,
            Some("order-1"),
        )
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let first_request = first.header("Request-Id").unwrap().to_owned();
    let second = sim
        .post_as(
            "/v1/checkout/sessions",
            &session_params(),
            KEY,
            Some("order-1"),
        )
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(second.header("Request-Id"), Some(first_request.as_str()));
    assert_eq!(second.body, first.body);
    assert_eq!(session_count(&sim).await, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_key_is_forgotten_after_24_hours() {
    let sim = harness::start().await;
    let params = session_params();
    let post = || sim.post_as("/v1/checkout/sessions", &params, KEY, Some("order-1"));
    let first = post().await;
    sim.admin("advance_clock", json!({ "seconds": 24 * 3600 - 30 }))
        .await;
    assert_eq!(post().await.header("Idempotent-Replayed"), Some("true"));

    // Past 24 hours, within a minute of the last sweep over the keys.
    sim.admin("advance_clock", json!({ "seconds": 31 })).await;
    let after = post().await;

    assert_eq!(after.status, 200);
    assert_eq!(after.header("Idempotent-Replayed"), None, "a new request");
    assert_ne!(after.body["id"], first.body["id"]);
    assert_eq!(session_count(&sim).await, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_is_an_idempotency_error() {
    let sim = harness::start().await;
    sim.post_as(
        "/v1/checkout/sessions",
        &session_params(),
        KEY,
        Some("order-2"),
    )
    .await
    .ok();
    let mut other = session_params();
    other.push(("client_reference_id", "different".into()));
    let err = sim
        .post_as("/v1/checkout/sessions", &other, KEY, Some("order-2"))
        .await
        .error(400);
    assert_eq!(err["type"], "idempotency_error");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("Keys for idempotent requests can only be used with the same parameters")
    );
    // Another endpoint with the same key is a different request too.
    sim.post_as("/v1/customers", &[], KEY, Some("order-2"))
        .await
        .error(400);
    assert_eq!(session_count(&sim).await, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn keys_are_scoped_per_api_key() {
    let sim = harness::start().await;
    let a = sim
        .post_as("/v1/customers", &[], "sk_test_accountA", Some("same"))
        .await
        .ok();
    let b = sim
        .post_as("/v1/customers", &[], "sk_test_accountB", Some("same"))
        .await;
    assert_eq!(b.header("Idempotent-Replayed"), None);
    assert_ne!(b.ok()["id"], a["id"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn validation_failures_are_not_stored_but_executed_errors_are() {
    let sim = harness::start().await;
    let mut invalid = session_params();
    invalid.push(("colour", "red".into()));
    sim.post_as("/v1/checkout/sessions", &invalid, KEY, Some("k"))
        .await
        .error(400);
    // The corrected request may reuse the key.
    sim.post_as("/v1/checkout/sessions", &session_params(), KEY, Some("k"))
        .await
        .ok();

    // A 400 from an executed request (expiring twice) is replayed.
    let session = sim.create_session(&[]).await;
    let path = format!(
        "/v1/checkout/sessions/{}/expire",
        session["id"].as_str().unwrap()
    );
    sim.post(&path, &[]).await.ok();
    let first = sim.post_as(&path, &[], KEY, Some("expire-again")).await;
    assert_eq!(first.status, 400);
    let replay = sim.post_as(&path, &[], KEY, Some("expire-again")).await;
    assert_eq!(replay.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(replay.body, first.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_key_still_in_flight_is_a_409() {
    let sim = harness::start().await;
    sim.admin("faults", json!({ "latency_ms": 1500 })).await;
    let first = sim.post_as("/v1/customers", &[], KEY, Some("slow"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sim.post_as("/v1/customers", &[], KEY, Some("slow")).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status, 200);
    assert_eq!(second.header("Stripe-Should-Retry"), Some("true"));
    let err = second.error(409);
    assert_eq!(err["code"], "idempotency_key_in_use");
    // Once finished, the key replays.
    let third = sim.post_as("/v1/customers", &[], KEY, Some("slow")).await;
    assert_eq!(third.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(third.body, first.body);
    sim.shutdown().await;
}
