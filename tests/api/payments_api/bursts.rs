//! Bursts of debits queue for Stripe instead of failing: every node takes
//! turns from one budget in PostgreSQL, spaced below Stripe's rate limit
//! (the simulator enforces it and reports the peak it saw), and a debit
//! whose turn would come too late is refused at once with a 503 and
//! `Retry-After`, nothing charged, so that a retry with the same key
//! charges it exactly once.

use futures_util::StreamExt;

use super::*;

/// The limits of the simulator at `sim_url` (0: none), its counters
/// started afresh.
pub(crate) async fn limit_stripe(sim_url: &str, reads: u32, writes: u32) {
    let response = reqwest::Client::new()
        .post(format!("{sim_url}/_sim/rate_limit"))
        .json(&json!({ "reads_per_second": reads, "writes_per_second": writes }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The limits, the peak rates seen and the refusals, as the simulator counts.
pub(crate) async fn stripe_rates(sim_url: &str) -> Value {
    reqwest::get(format!("{sim_url}/_sim/rate_limit"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Debits the account once per key, all at once; the answers in the keys' order.
async fn burst(api: &Api<'_>, account: &str, keys: &[String]) -> Vec<reqwest::Response> {
    futures_util::stream::iter(keys)
        .map(|key| {
            let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
            api.debit_with_key(key, body)
        })
        .buffered(keys.len())
        .collect()
        .await
}

async fn succeeded_debits(app: &TestApp) -> Vec<String> {
    payments::table
        .filter(payments::order_id.is_null())
        .filter(payments::status.eq("succeeded"))
        .select(payments::stripe_payment_intent_id.assume_not_null())
        .load(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_burst_of_debits_waits_its_turns_and_never_crosses_stripe_s_limit() {
    let app = spawn_app_with(&[
        ("STRIPE_READS_PER_SECOND", "3"),
        ("STRIPE_WRITES_PER_SECOND", "3"),
    ])
    .await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    limit_stripe(&app.sim_url, 5, 5).await;

    let keys: Vec<String> = (0..12).map(|n| format!("burst-{n}")).collect();
    for response in burst(&api, &account, &keys).await {
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let rates = stripe_rates(&app.sim_url).await;
    assert_eq!(rates["refused"], 0, "{rates}");
    assert!(
        rates["max_writes_in_one_second"].as_u64().unwrap() <= 5,
        "{rates}"
    );
    assert!(
        rates["max_reads_in_one_second"].as_u64().unwrap() <= 5,
        "{rates}"
    );
    let mut intents = succeeded_debits(&app).await;
    intents.sort();
    intents.dedup();
    assert_eq!(intents.len(), keys.len(), "one charge per debit");
}

#[tokio::test]
async fn a_debit_whose_turn_is_too_far_is_refused_and_its_retry_charges_once() {
    let app = spawn_app_with(&[
        ("STRIPE_READS_PER_SECOND", "0"),
        ("STRIPE_WRITES_PER_SECOND", "1"),
        ("DEBIT_QUEUE_WAIT_MS", "1000"),
    ])
    .await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;

    // One write a second, a second's wait at most: of ten at once, the
    // first go and the others are refused, nothing sent for them.
    let keys: Vec<String> = (0..10).map(|n| format!("queued-{n}")).collect();
    let mut refused = Vec::new();
    for (key, response) in keys.iter().zip(burst(&api, &account, &keys).await) {
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, body) = read(response).await;
        if status == StatusCode::CREATED {
            continue;
        }
        assert_error(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "payment_provider_queue_full",
        );
        assert_eq!(retry_after.unwrap(), "1");
        refused.push(key.clone());
    }
    assert!(
        !refused.is_empty() && refused.len() < keys.len(),
        "{refused:?}"
    );
    assert_eq!(
        succeeded_debits(&app).await.len(),
        keys.len() - refused.len()
    );

    // Each retried with its key, one at a time: charged once each.
    for key in &refused {
        let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
        let (status, body) = read(api.debit_with_key(key, body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {body}");
    }
    let mut intents = succeeded_debits(&app).await;
    intents.sort();
    intents.dedup();
    assert_eq!(intents.len(), keys.len(), "one charge per key");
    let created = app.stripe_get("/v1/payment_intents?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|intent| intent["metadata"]["payment_id"].is_string())
        .count();
    assert_eq!(created, keys.len(), "nothing sent for a refused debit");
}
