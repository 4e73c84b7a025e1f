//! A merchant's large batch: 10,000 asynchronous debits submitted at once,
//! spread over the three nodes of the multi-node test (64 requests in
//! flight), with the simulator enforcing a rate limit of 250 reads and 250
//! writes a second and every node sharing one budget of 200 a second each
//! (80 % of the limit, as in production: spacing alone does not keep a
//! sliding one-second window under the limit when calls are late; runs saw
//! up to 231 reads in one second). Each debit costs one read (its saved
//! card, while the request waits) and one write (the charge, by a queue
//! worker): 50 s at the budget's pace. On 2 shared cores the submissions
//! took 51-58 s and the last debit settled after 69-83 s (debug build, the
//! debits' webhooks arriving meanwhile). Every debit must settle exactly
//! once: 10,000 payments succeeded, 10,000 distinct PaymentIntents at the
//! simulator and no more, the limit never exceeded, nothing refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storefront::db::schema::{debit_queue, payments};

use crate::helpers::{STRIPE_KEY, test_database};
use crate::multinode::{NODES, start_nodes_with};
use crate::payments_api::bursts::{limit_stripe, stripe_rates};

const DEBITS: usize = 10_000;
const IN_FLIGHT: usize = 64;
/// The simulator's limit, reads and writes each, per second.
const STRIPE_LIMIT: u32 = 250;
/// Our budget, reads and writes each, per second, shared by the nodes.
const BUDGET: &str = "200";
/// Longest the whole batch may take to settle before the test gives up
/// (at the budget's pace it takes about a minute).
const SETTLE_WITHIN: Duration = Duration::from_secs(600);

/// Every PaymentIntent at the simulator, page by page.
async fn all_intents(sim_url: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut intents: Vec<Value> = Vec::new();
    loop {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(last) = intents.last() {
            query.push(("starting_after", last["id"].as_str().unwrap().to_owned()));
        }
        let page: Value = client
            .get(format!("{sim_url}/v1/payment_intents"))
            .bearer_auth(STRIPE_KEY)
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        intents.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return intents;
        }
    }
}

/// Sends a debit as a merchant's client should: a connection lost under
/// the request, the same key still in flight (409) or a node too busy for
/// now (503) is retried with the same Idempotency-Key (which cannot debit
/// twice), a few times.
async fn submit(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    for _ in 0..5 {
        let response = match request.try_clone().unwrap().send().await {
            Ok(response) => response,
            Err(error) => {
                eprintln!("retrying a debit with its key after: {error}");
                continue;
            }
        };
        if [StatusCode::CONFLICT, StatusCode::SERVICE_UNAVAILABLE].contains(&response.status()) {
            let text = response.text().await.unwrap_or_default();
            eprintln!("retrying a debit with its key after: {text}");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        return (response.status(), response.json().await.unwrap());
    }
    panic!("a debit failed five times");
}

#[tokio::test]
async fn ten_thousand_async_debits_over_three_nodes_settle_once_each_under_stripe_s_limit() {
    let nodes = start_nodes_with(
        test_database().await,
        &[
            ("STRIPE_READS_PER_SECOND", BUDGET.to_owned()),
            ("STRIPE_WRITES_PER_SECOND", BUDGET.to_owned()),
        ],
    )
    .await;
    let (account, key) = nodes.saved_card_account().await;
    let sim = nodes.sim.base_url();
    limit_stripe(&sim, STRIPE_LIMIT, STRIPE_LIMIT).await;

    // Submitted at once, round robin over the nodes: each answered 202 queued.
    let started = Instant::now();
    // Idle connections are dropped before the server's keep-alive (5 s)
    // would close them under a request.
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let answers: Vec<(StatusCode, Value)> = futures_util::stream::iter(0..DEBITS)
        .map(|n| {
            let request = client
                .post(format!("{}/api/v1/payments", nodes.node_urls[n % NODES]))
                .bearer_auth(&key)
                .header("Idempotency-Key", format!("batch-{n}"))
                .json(
                    &json!({ "account_id": account, "amount": "2.00", "currency": "usd",
                               "confirm": "async" }),
                );
            submit(request)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let submitted = started.elapsed();
    let mut ids = HashSet::new();
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        assert!(
            ["queued", "processing", "succeeded"].contains(&body["status"].as_str().unwrap()),
            "{body}"
        );
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), DEBITS, "a payment per debit");

    // Then they settle, however the queue was shared, and leave the queue.
    let mut conn = nodes.db().await;
    loop {
        let settled: i64 = payments::table
            .filter(payments::order_id.is_null())
            .filter(payments::status.ne_all(["queued", "processing"]))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        let queued: i64 = debit_queue::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        if settled == DEBITS as i64 && queued == 0 {
            break;
        }
        assert!(
            started.elapsed() < SETTLE_WITHIN,
            "{settled} of {DEBITS} settled, {queued} on the queue after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = started.elapsed();
    let rates = stripe_rates(&sim).await;
    eprintln!(
        "{DEBITS} async debits over {NODES} nodes: submitted in {submitted:?}, all settled after {settled:?}; {rates}"
    );

    let debits: Vec<(String, String, Option<String>)> = payments::table
        .filter(payments::order_id.is_null())
        .select((
            payments::id,
            payments::status,
            payments::stripe_payment_intent_id,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(debits.len(), DEBITS);
    let recorded: HashSet<String> = debits.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(recorded, ids, "none lost, none added");
    assert!(debits.iter().all(|(_, status, _)| status == "succeeded"));
    let intents: HashSet<&str> = debits
        .iter()
        .filter_map(|(_, _, intent)| intent.as_deref())
        .collect();
    assert_eq!(intents.len(), DEBITS, "a PaymentIntent of its own each");

    // Stripe's side: the limit held, and exactly one charge per debit.
    assert_eq!(rates["refused"], 0, "{rates}");
    for kind in ["max_reads_in_one_second", "max_writes_in_one_second"] {
        assert!(
            rates[kind].as_u64().unwrap() <= u64::from(STRIPE_LIMIT),
            "{rates}"
        );
    }
    limit_stripe(&sim, 0, 0).await;
    let at_stripe: Vec<Value> = all_intents(&sim)
        .await
        .into_iter()
        .filter(|intent| intent["metadata"]["payment_id"].is_string())
        .collect();
    assert_eq!(at_stripe.len(), DEBITS, "no PaymentIntent twice");
    let charged: HashSet<&str> = at_stripe
        .iter()
        .map(|intent| intent["metadata"]["payment_id"].as_str().unwrap())
        .collect();
    assert_eq!(charged.len(), DEBITS);
    assert!(
        at_stripe
            .iter()
            .all(|intent| intent["status"] == "succeeded")
    );
    nodes.stop().await;
}
