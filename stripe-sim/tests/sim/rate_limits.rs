//! Stripe's rate limits (`Config::rate_limit`, `/_sim/rate_limit`) and the
//! peak rates the simulator counts.

use std::time::Duration;

use serde_json::{Value, json};
use stripe_sim::{Config, RateLimit};

use crate::harness::{self, KEY, Sim};

async fn report(sim: &Sim) -> Value {
    let response = sim
        .http
        .get(format!("{}/_sim/rate_limit", sim.base))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// The statuses of `count` customer creations, one after another.
async fn writes(sim: &Sim, key: &str, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        let reply = sim.post_as("/v1/customers", &[], key, None).await;
        statuses.push(reply.status.as_u16());
    }
    statuses
}

#[tokio::test]
async fn writes_beyond_the_limit_are_refused_with_stripes_429() {
    let sim = harness::start().await;
    let set = sim
        .admin("rate_limit", json!({ "writes_per_second": 3 }))
        .await;
    assert_eq!(set["writes_per_second"], 3);
    assert_eq!(set["reads_per_second"], 0);
    assert_eq!(writes(&sim, KEY, 5).await, [200, 200, 200, 429, 429]);
    let refused = sim.post("/v1/customers", &[]).await;
    assert_eq!(
        refused
            .header("Request-Id")
            .map(|id| id.starts_with("req_")),
        Some(true)
    );
    let err = refused.error(429);
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["code"], "rate_limit");
    assert_eq!(
        err["message"],
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
    );
    // Reads have their own limit (none here), and each API key its own window.
    for _ in 0..10 {
        sim.get("/v1/customers", &[]).await.ok();
    }
    assert_eq!(writes(&sim, "sk_test_other", 3).await, [200, 200, 200]);
    // A refused request is not kept against its Idempotency-Key.
    let refused = sim
        .post_as("/v1/customers", &[], KEY, Some("create-1"))
        .await;
    assert_eq!(refused.status, 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retried = sim
        .post_as("/v1/customers", &[], KEY, Some("create-1"))
        .await;
    assert_eq!(retried.header("Idempotent-Replayed"), None);
    retried.ok();
    let seen = report(&sim).await;
    assert_eq!(seen["max_writes_in_one_second"], 3);
    assert_eq!(seen["max_reads_in_one_second"], 10);
    assert_eq!(seen["refused"], 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_limit_the_peak_rates_are_still_counted() {
    let sim = harness::start().await;
    assert_eq!(writes(&sim, KEY, 6).await, [200; 6]);
    let seen = report(&sim).await;
    assert_eq!(seen["writes_per_second"], 0);
    assert_eq!(seen["max_writes_in_one_second"], 6);
    assert_eq!(seen["refused"], 0);
    // Setting the limit starts counting afresh.
    let fresh = sim.admin("rate_limit", json!({})).await;
    assert_eq!(fresh["max_writes_in_one_second"], 0);
    let response = sim
        .http
        .post(format!("{}/_sim/rate_limit", sim.base))
        .json(&json!({ "writes": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_config_can_apply_stripes_test_mode_limits() {
    let sim = harness::start_config(Config {
        rate_limit: RateLimit::STRIPE_TEST_MODE,
        ..harness::test_config()
    })
    .await;
    let seen = report(&sim).await;
    assert_eq!(
        (&seen["reads_per_second"], &seen["writes_per_second"]),
        (&json!(25), &json!(25))
    );
    let statuses = writes(&sim, KEY, 30).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        25,
        "{statuses:?}"
    );
    assert_eq!(report(&sim).await["max_writes_in_one_second"], 25);
    // A reset goes back to the configured limits.
    sim.admin("rate_limit", json!({ "writes_per_second": 0 }))
        .await;
    sim.admin("reset", json!({})).await;
    assert_eq!(report(&sim).await["writes_per_second"], 25);
    sim.shutdown().await;
}
