//! Asynchronous debits (`"confirm": "async"`): answered 202 at once with
//! the payment `queued`, charged by the queue worker, their status moving
//! from `queued` to `processing` to the outcome; replays answer the first
//! 202; a declined card's outcome is recorded like a synchronous one's
//! and told as an event;
//! two workers racing for one debit charge it once; the reconciler leaves
//! queued debits alone.
//!
//! To watch a debit stand still, a test holds the Stripe write budget's row
//! (`stripe_call_slots`) locked, as a long queue of turns would: a worker
//! that has claimed a debit then waits for its turn.

use diesel_async::AsyncPgConnection;

use super::*;
use crate::helpers::{STRIPE_KEY, spawn_with_vars};

/// Locks the write budget's row until `release_turns`.
async fn hold_write_turns(app: &TestApp) -> AsyncPgConnection {
    let mut conn = app.db().await;
    conn.batch_execute(
        "INSERT INTO stripe_call_slots (bucket, next_at) VALUES ('test:write', now())
             ON CONFLICT DO NOTHING;
         BEGIN;
         SELECT 1 FROM stripe_call_slots WHERE bucket = 'test:write' FOR UPDATE;",
    )
    .await
    .unwrap();
    conn
}

async fn release_turns(mut held: AsyncPgConnection) {
    held.batch_execute("ROLLBACK").await.unwrap();
}

fn async_debit(account: &str, amount: &str) -> Value {
    json!({ "account_id": account, "amount": amount, "currency": "usd", "confirm": "async" })
}

/// The simulator's PaymentIntents made for our payment `id`.
async fn intents_for(app: &TestApp, id: &str) -> Vec<Value> {
    app.stripe_get("/v1/payment_intents?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|intent| intent["metadata"]["payment_id"] == id)
        .cloned()
        .collect()
}

/// The tries the queue has made of a debit (`None`: off the queue).
async fn attempts(app: &TestApp, id: &str) -> Option<i32> {
    use storefront::db::schema::debit_queue;
    debit_queue::table
        .find(id)
        .select(debit_queue::attempts)
        .first(&mut app.db().await)
        .await
        .optional()
        .unwrap()
}

#[tokio::test]
async fn an_async_debit_answers_202_queued_at_once_and_moves_to_its_outcome() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let held = hold_write_turns(&app).await;

    let first = api
        .debit_with_key("async-1", async_debit(&account, "12.50"))
        .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (status, first) = read(first).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["object"], "payment");
    assert_eq!(first["status"], "queued");
    assert_eq!(first["source"], "api");
    assert_eq!(
        (&first["amount"], &first["amount_minor"]),
        (&json!("12.50"), &json!(1250))
    );
    assert_eq!(first["account_id"], account);
    assert_eq!(first["failure_code"], Value::Null);
    let first_id = first["id"].as_str().unwrap().to_owned();
    let get = |id: String| {
        let api = &api;
        async move { api.get(&format!("/api/v1/payments/{id}")).await.1 }
    };
    // The worker takes it and waits for its turn at Stripe.
    app.eventually("the worker took the first debit", || async {
        get(first_id.clone()).await["status"] == "processing"
    })
    .await;
    // Meanwhile the next one waits in the queue, never sent.
    let (status, second) = read(
        api.debit_with_key("async-2", async_debit(&account, "7.00"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(get(second_id.clone()).await["status"], "queued");
    let (_, list) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let statuses: Vec<&Value> = list["data"].as_array().unwrap()[..2]
        .iter()
        .map(|p| &p["status"])
        .collect();
    assert_eq!(statuses, [&json!("queued"), &json!("processing")], "{list}");
    assert!(intents_for(&app, &first_id).await.is_empty());
    assert!(intents_for(&app, &second_id).await.is_empty());

    // A replay answers the first 202, whatever became of the debit since.
    let replay = api
        .debit_with_key("async-1", async_debit(&account, "12.50"))
        .await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(read(replay).await, (StatusCode::ACCEPTED, first.clone()));
    // The same key for a synchronous debit is another request.
    let body = json!({ "account_id": account, "amount": "12.50", "currency": "usd" });
    let (status, body) = read(api.debit_with_key("async-1", body).await).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );

    release_turns(held).await;
    app.eventually("both debits succeeded", || async {
        get(first_id.clone()).await["status"] == "succeeded"
            && get(second_id.clone()).await["status"] == "succeeded"
    })
    .await;
    for id in [&first_id, &second_id] {
        let intents = intents_for(&app, id).await;
        assert_eq!(intents.len(), 1, "charged once: {intents:?}");
        assert_eq!(intents[0]["status"], "succeeded");
        assert_eq!(payment_intent_of(&app, id).await, intents[0]["id"]);
        assert_eq!(attempts(&app, id).await, None, "off the queue");
    }
    assert_eq!(intents_for(&app, &first_id).await[0]["amount"], 1250);
    let replay = api
        .debit_with_key("async-1", async_debit(&account, "12.50"))
        .await;
    assert_eq!(read(replay).await, (StatusCode::ACCEPTED, first));
}

#[tokio::test]
async fn confirm_is_sync_or_async_and_anything_else_is_refused_with_nothing_recorded() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;

    for (n, confirm) in [json!("later"), json!("ASYNC"), json!(""), json!(true)]
        .into_iter()
        .enumerate()
    {
        let body = json!({ "account_id": account, "amount": "5.00", "currency": "usd",
                           "confirm": confirm });
        let (status, body) = read(api.debit_with_key(&format!("bad-{n}"), body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{confirm}: {body}");
        if confirm.is_string() {
            assert_error(status, &body, StatusCode::BAD_REQUEST, "parameter_invalid");
            assert_eq!(body["error"]["param"], "confirm");
        }
    }
    let debits: i64 = payments::table
        .filter(payments::order_id.is_null())
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(debits, 0, "nothing recorded");

    // "sync" is the default, spelled out.
    let body = json!({ "account_id": account, "amount": "5.00", "currency": "usd",
                       "confirm": "sync" });
    let (status, body) = read(api.debit_with_key("sync", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "succeeded");
}

#[tokio::test]
async fn a_declined_card_s_async_debit_ends_failed_with_its_decline_code_and_says_so() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_DECLINES_LATER, true).await;
    // The merchant learns the outcome from an event, without polling.
    let receiver = crate::receiver::Receiver::start().await;
    let (status, endpoint) = read(
        api.request(reqwest::Method::POST, "/api/v1/webhook_endpoints")
            .json(&json!({ "url": receiver.url, "enabled_events": ["payment.failed"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");

    let (status, queued) = read(
        api.debit_with_key("declined", async_debit(&account, "42.99"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/payments/{id}");
    app.eventually("the debit failed", || async {
        api.get(&path).await.1["status"] == "failed"
    })
    .await;
    let (_, payment) = api.get(&path).await;
    assert_eq!(payment["failure_code"], "card_declined");
    assert_eq!(payment["decline_code"], "generic_decline");
    assert_eq!(attempts(&app, &id).await, None, "off the queue");
    // The replay still answers what the request was told: queued.
    let replay = api
        .debit_with_key("declined", async_debit(&account, "42.99"))
        .await;
    assert_eq!(read(replay).await, (StatusCode::ACCEPTED, queued));
    app.eventually("its payment.failed event delivered", || async {
        !receiver.accepted().is_empty()
    })
    .await;
    let told = receiver.accepted();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["type"], "payment.failed");
    assert_eq!(told[0]["data"]["object"]["id"], id.as_str());
    assert_eq!(told[0]["data"]["object"]["decline_code"], "generic_decline");
    receiver.stop().await;
}

#[tokio::test]
async fn two_workers_racing_for_one_queued_debit_charge_it_once() {
    let app = spawn_app().await;
    // A second node on the same database and Stripe, with its own worker.
    let _other = spawn_with_vars(vec![
        ("DATABASE_URL".into(), app.db_url.expose().to_owned()),
        ("STRIPE_SECRET_KEY".into(), STRIPE_KEY.into()),
        ("STRIPE_API_BASE".into(), app.sim_url.clone()),
        (
            "STRIPE_WEBHOOK_SECRET".into(),
            app.webhook_secret.expose().to_owned(),
        ),
    ])
    .await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let held = hold_write_turns(&app).await;
    let (_, queued) = read(
        api.debit_with_key("raced", async_debit(&account, "9.00"))
            .await,
    )
    .await;
    let id = queued["id"].as_str().unwrap().to_owned();
    app.eventually("one worker claimed the debit", || async {
        attempts(&app, &id).await == Some(1)
    })
    .await;

    // Its node stalls past the lease (as one that died mid-charge): the
    // other node's worker takes the debit too.
    app.db()
        .await
        .batch_execute("UPDATE debit_queue SET run_at = now(); NOTIFY debits_queued;")
        .await
        .unwrap();
    app.eventually("the other worker claimed it as well", || async {
        attempts(&app, &id).await == Some(2)
    })
    .await;

    // Both send it to Stripe, under the same idempotency key.
    release_turns(held).await;
    let path = format!("/api/v1/payments/{id}");
    app.eventually("the debit succeeded and left the queue", || async {
        api.get(&path).await.1["status"] == "succeeded" && attempts(&app, &id).await.is_none()
    })
    .await;
    let intents = intents_for(&app, &id).await;
    assert_eq!(intents.len(), 1, "charged once: {intents:?}");
    assert_eq!(payment_intent_of(&app, &id).await, intents[0]["id"]);
    assert_eq!(api.get(&path).await.1["version"], queued["version"]);
}

#[tokio::test]
async fn the_reconciler_leaves_debits_the_queue_has_not_sent_alone() {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let held = hold_write_turns(&app).await;
    let (_, taken) = read(
        api.debit_with_key("taken", async_debit(&account, "3.00"))
            .await,
    )
    .await;
    let taken = taken["id"].as_str().unwrap().to_owned();
    let get = |id: String| {
        let api = &api;
        async move { api.get(&format!("/api/v1/payments/{id}")).await.1 }
    };
    app.eventually("the worker took the first debit", || async {
        get(taken.clone()).await["status"] == "processing"
    })
    .await;
    let (_, waiting) = read(
        api.debit_with_key("waiting", async_debit(&account, "4.00"))
            .await,
    )
    .await;
    let waiting = waiting["id"].as_str().unwrap().to_owned();
    // Both queued two hours ago, as is a debit Stripe never heard of.
    let never_sent = "pay_neverreachedstripe0002";
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE payments SET created_at = now() - interval '2 hours'
                 WHERE id IN ('{taken}', '{waiting}');
             INSERT INTO payments (id, account_id, stripe_customer_id, stripe_payment_method_id,
                 amount_minor, currency, status, created_at)
             SELECT '{never_sent}', id, stripe_customer_id, 'pm_unused', 500, 'USD',
                 'processing', now() - interval '2 hours'
             FROM accounts WHERE id = '{account}'"
        ))
        .await
        .unwrap();

    // The reconciler fails the lost one and leaves the queue's to it.
    app.eventually("the reconciler settled the lost debit", || async {
        get(never_sent.to_owned()).await["status"] == "failed"
    })
    .await;
    assert_eq!(get(taken.clone()).await["status"], "processing");
    assert_eq!(get(waiting.clone()).await["status"], "queued");

    release_turns(held).await;
    app.eventually("the queue charged both", || async {
        get(taken.clone()).await["status"] == "succeeded"
            && get(waiting.clone()).await["status"] == "succeeded"
    })
    .await;
}
