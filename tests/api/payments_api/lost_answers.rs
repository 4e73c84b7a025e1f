//! Debits when Stripe is down, slow or its answer is lost: retries, webhooks
//! and held refunds settle each payment once.

use super::*;

#[tokio::test]
async fn stripe_being_down_answers_503_and_a_retry_with_the_same_key_succeeds() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });

    app.sim_faults(json!({ "error_rate": 100, "error_status": 500 }))
        .await;
    let response = api.debit_with_key("retry-me", body.clone()).await;
    assert!(response.headers().contains_key("retry-after"));
    let (status, error) = read(response).await;
    assert_error(
        status,
        &error,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    );

    app.sim_faults(json!({ "error_rate": 0 })).await;
    let (status, payment) = read(api.debit_with_key("retry-me", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
}

#[tokio::test]
async fn a_stripe_key_refused_mid_debit_is_a_503_and_a_retry_succeeds() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    // Stripe refuses our key (a rotation half done): not the card's fault.
    app.sim_faults(json!({"error_rate": 100, "error_status": 401}))
        .await;

    let (status, error) = read(api.debit_with_key("rotated", body.clone()).await).await;

    assert_error(
        status,
        &error,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    );
    app.sim_faults(json!({"error_rate": 0})).await;
    let (status, debit) = read(api.debit_with_key("rotated", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{debit}");
    assert_eq!(debit["status"], "succeeded");
}

#[tokio::test]
async fn a_debit_whose_answer_was_lost_is_settled_by_its_webhook() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("lost-answer", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let intent = intent_of(&app, &id).await;
    // As if Stripe's answer had been lost to a timeout.
    lose_answer(&app, &id, "lost-answer", 0).await;
    assert_eq!(
        api.get(&format!("/api/v1/payments/{id}")).await.1["status"],
        "processing"
    );

    // Stripe's payment_intent.succeeded event settles it, with no retry.
    deliver_intent_event(&app, "evt_lost_answer", "payment_intent.succeeded", intent).await;
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(
        payment["version"], debit["version"],
        "settling is not an update"
    );

    // A retry with the same key a day later is answered from it: the same
    // payment. Stripe, which has forgotten its own key by then, would
    // charge again if asked.
    app.sim_advance_clock(25 * 3600).await;
    let intents = || app.stripe_get("/v1/events?type=payment_intent.created&limit=100");
    let intents_before = intents().await;
    assert_eq!(
        intents_before["data"].as_array().unwrap().len(),
        2,
        "checkout, debit"
    );
    let (status, replay) = read(api.debit_with_key("lost-answer", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{replay}");
    assert_eq!(replay["id"], id.as_str());
    assert_eq!(replay["status"], "succeeded");
    assert_eq!(
        intents().await,
        intents_before,
        "Stripe was not asked again"
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_sends_stripe_what_the_key_first_sent() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({
        "account_id": account, "amount": "3.00", "currency": "usd", "description": "first",
    });
    let (_, debit) = read(api.debit_with_key("patched", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    lose_answer(&app, &id, "patched", 0).await;
    // The merchant edits the payment before retrying.
    let (status, patched) = api
        .patch(
            &id,
            json!({ "description": "second", "version": debit["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    // Stripe replays the charge it made; asked with another description,
    // it would refuse the key and the charge would be recorded as failed.
    let (status, retried) = read(api.debit_with_key("patched", body).await).await;

    assert_eq!(status, StatusCode::CREATED, "{retried}");
    assert_eq!(retried["id"], id.as_str());
    assert_eq!(retried["status"], "succeeded");
    assert_eq!(retried["description"], "second");
    let intent = intent_of(&app, &id).await;
    assert_eq!(intent["description"], "first");
    let charges = app
        .stripe_get("/v1/events?type=payment_intent.created&limit=100")
        .await;
    assert_eq!(
        charges["data"].as_array().unwrap().len(),
        2,
        "checkout, one debit"
    );
}

#[tokio::test]
async fn stripe_s_word_settles_a_debit_recorded_failed_without_an_intent() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("flipped", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let intent = intent_of(&app, &id).await;
    // As if a retry after a lost answer had been refused by Stripe: failed,
    // no intent known, and that refusal stored for the key.
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE payments SET status = 'failed', stripe_payment_intent_id = NULL,
                 failure_code = 'payment_rejected' WHERE id = '{id}';
             UPDATE api_idempotency SET response_status = 422,
                 response_body = '{{\"error\": {{\"code\": \"payment_rejected\"}}}}'
                 WHERE key = 'flipped';"
        ))
        .await
        .unwrap();

    deliver_intent_event(
        &app,
        "evt_failed_then_paid",
        "payment_intent.succeeded",
        intent,
    )
    .await;

    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(payment["failure_code"], Value::Null);
    // A replay of the key no longer says it was refused.
    let (status, replay) = read(api.debit_with_key("flipped", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{replay}");
    assert_eq!(replay["status"], "succeeded");
}

/// How many deliveries of events of `kind` the app has acknowledged.

#[tokio::test]
async fn a_refund_whose_event_came_before_a_lost_answer_was_settled_still_shows() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("refunded-early", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let payment_intent = payment_intent_of(&app, &id).await;
    // The checkout's and the debit's payment_intent.succeeded are in.
    app.eventually("both intents' events delivered", || async {
        delivered(&app, "payment_intent.succeeded").await >= 2
    })
    .await;
    lose_answer(&app, &id, "refunded-early", 0).await;
    // The merchant refunds in Stripe's dashboard before anyone retries: the
    // event finds no payment with that intent yet.
    refund_at_stripe(&app, &payment_intent, "100").await;
    app.eventually("the refund event delivered", || async {
        delivered(&app, "charge.refunded").await >= 1
    })
    .await;

    let (status, settled) = read(api.debit_with_key("refunded-early", body).await).await;

    assert_eq!(status, StatusCode::CREATED, "{settled}");
    assert_eq!(settled["status"], "succeeded");
    assert_eq!(settled["amount_refunded_minor"], 100);
}

#[tokio::test]
async fn a_refund_event_before_a_processing_debit_succeeds_is_kept_for_it() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let (_, debit) = api.debit(&account, "3.00", "usd").await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let intent = intent_of(&app, &id).await;
    app.eventually("both intents' events delivered", || async {
        delivered(&app, "payment_intent.succeeded").await >= 2
    })
    .await;
    // As a debit Stripe answered 202 `processing` for: its intent is known.
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE payments SET status = 'processing' WHERE id = '{id}'"
        ))
        .await
        .unwrap();
    // The refund's event comes before the intent's success (Stripe does not
    // order events).
    refund_at_stripe(&app, intent["id"].as_str().unwrap(), "100").await;
    app.eventually("the refund event delivered", || async {
        delivered(&app, "charge.refunded").await >= 1
    })
    .await;

    deliver_intent_event(
        &app,
        "evt_processing_then_paid",
        "payment_intent.succeeded",
        intent,
    )
    .await;

    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(payment["amount_refunded_minor"], 100);
}

#[tokio::test]
async fn a_key_in_flight_is_held_as_long_as_stripe_may_still_answer() {
    // Three attempts of up to a minute each, with backoff: over three minutes.
    let app = spawn_app_with(&[("STRIPE_TIMEOUT_MS", "60000")]).await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("slow", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let claimed_ago = |seconds: i64| {
        let app = &app;
        let id = id.clone();
        async move {
            lose_answer(app, &id, "slow", 0).await;
            app.db()
                .await
                .batch_execute(&format!(
                    "UPDATE api_idempotency SET locked_at = now() - interval '{seconds} seconds' \
                     WHERE key = 'slow'"
                ))
                .await
                .unwrap();
        }
    };

    // Claimed 100 s ago: its Stripe call may still be running.
    claimed_ago(100).await;
    let (status, error) = read(api.debit_with_key("slow", body.clone()).await).await;
    assert_error(
        status,
        &error,
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
    );
    // Claimed 5 minutes ago: its node died; this request finishes it.
    claimed_ago(300).await;
    let (status, resumed) = read(api.debit_with_key("slow", body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{resumed}");
    assert_eq!(resumed["id"], id.as_str());
}

#[tokio::test]
async fn a_debit_left_processing_for_a_day_is_not_charged_again_on_retry() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("day-old", body.clone()).await).await;
    let id = debit["id"].as_str().unwrap();
    // Its answer lost a day ago, and no webhook since.
    lose_answer(&app, id, "day-old", 25).await;
    // Stripe has forgotten its key by now.
    app.sim_advance_clock(25 * 3600).await;
    let intents = || app.stripe_get("/v1/events?type=payment_intent.created&limit=100");
    let intents_before = intents().await;

    let (status, error) = read(api.debit_with_key("day-old", body).await).await;

    assert_error(
        status,
        &error,
        StatusCode::CONFLICT,
        "payment_outcome_unknown",
    );
    assert_eq!(intents().await, intents_before, "no second charge");
    assert_eq!(
        api.get(&format!("/api/v1/payments/{id}")).await.1["status"],
        "processing"
    );
}

#[tokio::test]
async fn a_debit_whose_answer_and_webhook_were_both_lost_is_settled_by_the_reconciler() {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "4.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("lost-twice", body).await).await;
    let charged = debit["id"].as_str().unwrap().to_owned();
    // Its answer lost a day and a half ago, and no webhook ever came: a
    // retry may not ask Stripe again (its key is forgotten by now).
    lose_answer(&app, &charged, "lost-twice", 36).await;
    // And one that never reached Stripe at all.
    let never_sent = "pay_neverreachedstripe0001";
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO payments (id, account_id, stripe_customer_id, stripe_payment_method_id,
                 amount_minor, currency, status, created_at)
             SELECT '{never_sent}', id, stripe_customer_id, 'pm_unused', 500, 'USD',
                 'processing', now() - interval '2 hours'
             FROM accounts WHERE id = '{account}'"
        ))
        .await
        .unwrap();

    let status = |id: String| {
        let api = &api;
        async move { api.get(&format!("/api/v1/payments/{id}")).await.1 }
    };
    app.eventually("the reconciler settled both debits", || async {
        status(charged.clone()).await["status"] == "succeeded"
            && status(never_sent.to_owned()).await["status"] == "failed"
    })
    .await;

    let charged = status(charged.clone()).await;
    assert_eq!(
        charged["version"], debit["version"],
        "settling is not an update"
    );
    let never = status(never_sent.to_owned()).await;
    assert_eq!(never["failure_code"], "payment_not_created");
}

#[tokio::test]
async fn an_intent_event_that_does_not_match_its_debit_changes_nothing() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "3.00", "currency": "usd" });
    let (_, debit) = read(api.debit_with_key("mismatched-event", body).await).await;
    let id = debit["id"].as_str().unwrap().to_owned();
    let mut intent = intent_of(&app, &id).await;
    lose_answer(&app, &id, "mismatched-event", 0).await;

    // The right payment id in its metadata, but not this debit's amount,
    // currency or customer.
    for (field, value) in [
        ("amount", json!(299)),
        ("currency", json!("eur")),
        ("customer", json!("cus_someoneelse0000000")),
    ] {
        let original = intent[field].clone();
        intent[field] = value;
        let event = format!("evt_mismatch_{field}");
        deliver_intent_event(&app, &event, "payment_intent.succeeded", intent.clone()).await;
        intent[field] = original;
        let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
        assert_eq!(payment["status"], "processing", "{field}");
    }
    // The matching one settles it.
    deliver_intent_event(&app, "evt_matching", "payment_intent.succeeded", intent).await;
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["status"], "succeeded");
}
