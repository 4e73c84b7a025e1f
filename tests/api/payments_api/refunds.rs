//! Refunds through the API (full, partial, concurrent, replayed, refused,
//! lost), by staff and in Stripe's dashboard, and the payment's refunded
//! total.

use super::*;

/// Refunds its card's charges, then the refunds fail (settled later).
const CARD_REFUNDS_FAIL: &str = "4000 0000 0000 5126";

impl Api<'_> {
    async fn refund_with_key(&self, payment_id: &str, key: &str, body: Value) -> reqwest::Response {
        self.request(
            reqwest::Method::POST,
            &format!("/api/v1/payments/{payment_id}/refunds"),
        )
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
    }

    async fn refund(&self, payment_id: &str, body: Value) -> (StatusCode, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        read(self.refund_with_key(payment_id, &key, body).await).await
    }

    async fn refunds(&self, payment_id: &str) -> Vec<Value> {
        let (status, list) = self
            .get(&format!("/api/v1/payments/{payment_id}/refunds"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["object"], "list");
        list["data"].as_array().unwrap().clone()
    }
}

/// A succeeded debit of `amount` dollars on a card saved with `card`.
async fn debited(app: &TestApp, api: &Api<'_>, card: &str, amount: &str) -> String {
    let account = checkout_and_pay(app, card, true).await;
    let (status, debit) = api.debit(&account, amount, "usd").await;
    assert_eq!(status, StatusCode::CREATED, "{debit}");
    debit["id"].as_str().unwrap().to_owned()
}

/// What Stripe has refunded of the payment's PaymentIntent, in cents.
async fn refunded_at_stripe(app: &TestApp, payment_id: &str) -> i64 {
    let intent = payment_intent_of(app, payment_id).await;
    app.stripe_get(&format!("/v1/refunds?payment_intent={intent}&limit=100"))
        .await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "failed")
        .map(|r| r["amount"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_payment_is_refunded_in_parts_and_never_beyond_what_is_left() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_OK, "42.99").await;

    // Part of it, with a reason.
    let body = json!({ "amount": "10.00", "reason": "requested_by_customer" });
    let (status, first) = read(api.refund_with_key(&id, "refund-1", body.clone()).await).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["object"], "refund");
    assert!(first["id"].as_str().unwrap().starts_with("rf_"), "{first}");
    assert_eq!(
        (&first["amount"], &first["amount_minor"], &first["currency"]),
        (&json!("10.00"), &json!(1000), &json!("usd"))
    );
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["payment_id"], id.as_str());
    assert_eq!(first["reason"], "requested_by_customer");
    assert_eq!(first["source"], "api");
    // The payment shows it at once, before any webhook.
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "10.00", "{payment}");
    assert_eq!(payment["refunded"], false);
    assert_eq!(payment["status"], "succeeded");

    // The same key and request replay the answer; another request is refused.
    let replay = api.refund_with_key(&id, "refund-1", body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(read(replay).await, (StatusCode::CREATED, first.clone()));
    let (status, error) = read(
        api.refund_with_key(&id, "refund-1", json!({ "amount": "11.00" }))
            .await,
    )
    .await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );

    // More than is left is refused, saying how much is.
    let (status, error) = api.refund(&id, json!({ "amount": "40.00" })).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_too_large",
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32.99"),
        "{error}"
    );

    // Without an amount: all of what is left.
    let (status, rest) = api.refund(&id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(rest["amount"], "32.99");
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "42.99");
    assert_eq!(payment["refunded"], true);
    let (status, error) = api.refund(&id, json!({})).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "payment_fully_refunded",
    );

    // Newest first; Stripe refunded exactly that; the webhooks that follow
    // count nothing twice.
    let listed = api.refunds(&id).await;
    assert_eq!(listed, [rest.clone(), first.clone()]);
    assert_eq!(refunded_at_stripe(&app, &id).await, 4299);
    app.eventually("the refunds' webhooks delivered", || async {
        delivered(&app, "refund.created").await >= 2
            && delivered(&app, "charge.refunded").await >= 2
    })
    .await;
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded_minor"], 4299);
    assert_eq!(api.refunds(&id).await.len(), 2);
}

#[tokio::test]
async fn concurrent_refunds_never_take_more_than_the_payment() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_OK, "42.99").await;

    let answers = futures_util::future::join_all(
        (0..10).map(|_| api.refund(&id, json!({ "amount": "10.00" }))),
    )
    .await;

    let made = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(
            *status,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "refund_too_large",
        );
    }
    assert_eq!(made, 4, "four refunds of 10.00 fit in 42.99");
    assert_eq!(refunded_at_stripe(&app, &id).await, 4000);
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "40.00");
    assert_eq!(api.refunds(&id).await.len(), 4);
}

#[tokio::test]
async fn a_refund_made_in_stripe_s_dashboard_is_listed_and_counted_once() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_OK, "20.00").await;
    let intent = payment_intent_of(&app, &id).await;

    refund_at_stripe(&app, &intent, "500").await;

    app.eventually("the dashboard's refund listed", || async {
        api.refunds(&id).await.len() == 1
    })
    .await;
    let listed = api.refunds(&id).await;
    assert_eq!(listed[0]["source"], "stripe");
    assert_eq!(listed[0]["amount"], "5.00");
    assert_eq!(listed[0]["status"], "succeeded");
    app.eventually("both of its events applied", || async {
        delivered(&app, "refund.created").await >= 1
            && delivered(&app, "charge.refunded").await >= 1
    })
    .await;
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "5.00");
    assert_eq!(payment["version"], 2, "one refund, one update");
    // What the dashboard took is not left for the API.
    let (status, error) = api.refund(&id, json!({ "amount": "15.01" })).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_too_large",
    );
}

#[tokio::test]
async fn a_refund_that_fails_later_says_so_and_stops_counting() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_REFUNDS_FAIL, "30.00").await;

    let (status, refund) = api.refund(&id, json!({ "amount": "30.00" })).await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["status"], "succeeded");
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["refunded"], true);

    app.eventually("the refund's charge.refunded delivered", || async {
        delivered(&app, "charge.refunded").await >= 1
    })
    .await;
    // Days later the card's issuer sends the money back: the refund fails.
    let settled = reqwest::Client::new()
        .post(format!("{}/_sim/settle", app.sim_url))
        .send()
        .await
        .unwrap();
    assert!(settled.status().is_success());
    app.eventually("the refund failed", || async {
        api.refunds(&id).await[0]["status"] == "failed"
    })
    .await;
    let listed = api.refunds(&id).await;
    assert_eq!(listed[0]["failure_reason"], "expired_or_canceled_card");
    // Late or replayed events of its success change nothing now.
    app.eventually("its events delivered", || async {
        delivered(&app, "refund.failed").await >= 1 && delivered(&app, "charge.refunded").await >= 1
    })
    .await;
    assert_eq!(api.refunds(&id).await[0]["status"], "failed");
    assert_eq!(api.refunds(&id).await.len(), 1);
    // The money came back to the merchant: nothing counts as refunded now,
    // as at Stripe, and all of it can be refunded again.
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "0.00", "{payment}");
    assert_eq!(payment["refunded"], false);
    assert_eq!(refunded_at_stripe(&app, &id).await, 0);
    let (status, again) = api.refund(&id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["amount"], "30.00");
    assert_eq!(refunded_at_stripe(&app, &id).await, 3000);
}

#[tokio::test]
async fn bad_refund_requests_are_typed_errors_and_change_nothing() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_OK, "5.00").await;

    for (body, code) in [
        (json!({ "amount": "abc" }), "amount_invalid"),
        (json!({ "amount": "-1" }), "amount_invalid"),
        (json!({ "amount": "0" }), "amount_invalid"),
        (json!({ "amount": "1.001" }), "amount_too_precise"),
        (json!({ "amount": 1 }), "parameter_invalid"),
        (json!({ "reason": "because" }), "parameter_invalid"),
        (
            json!({ "amount": "1.00", "currency": "usd" }),
            "parameter_unknown",
        ),
    ] {
        let (status, error) = api.refund(&id, body.clone()).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, code);
    }
    let no_key = api
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/payments/{id}/refunds"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, error) = read(no_key).await;
    assert_error(
        status,
        &error,
        StatusCode::BAD_REQUEST,
        "idempotency_key_missing",
    );
    let (status, error) = api.refund("pay_0000000000000000000000", json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "resource_missing");
    let (status, error) = api
        .get(&format!(
            "/api/v1/payments/{id}/refunds?starting_after=rf_0000000000000000000000"
        ))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "resource_missing");
    assert!(api.refunds(&id).await.is_empty());
    assert_eq!(refunded_at_stripe(&app, &id).await, 0);

    // A declined debit has nothing to refund.
    let account = checkout_and_pay(&app, CARD_DECLINES_LATER, true).await;
    let (status, declined) = api.debit(&account, "5.00", "usd").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let declined_id = declined["error"]["payment_id"].as_str().unwrap();
    let (status, error) = api.refund(declined_id, json!({})).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "payment_not_refundable",
    );
    assert!(api.refunds(declined_id).await.is_empty());
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_finished_by_a_retry_or_the_reconciler() {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    let api = Api::new(&app).await;
    let id = debited(&app, &api, CARD_OK, "9.00").await;

    // Stripe is down: 503, and the amount stays taken until we know.
    app.sim_faults(json!({ "error_rate": 100, "error_status": 500 }))
        .await;
    let (status, error) = read(
        api.refund_with_key(&id, "lost-refund", json!({ "amount": "4.00" }))
            .await,
    )
    .await;
    assert_error(
        status,
        &error,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    );
    let (status, error) = api.refund(&id, json!({ "amount": "5.01" })).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_too_large",
    );
    assert!(
        error["error"]["message"].as_str().unwrap().contains("5.00"),
        "{error}"
    );
    app.sim_faults(json!({ "error_rate": 0 })).await;

    // The retry with the same key makes that same refund, once.
    let (status, refund) = read(
        api.refund_with_key(&id, "lost-refund", json!({ "amount": "4.00" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["amount"], "4.00");
    assert_eq!(refunded_at_stripe(&app, &id).await, 400);
    assert_eq!(api.refunds(&id).await, [refund]);

    // One whose answer was lost and nobody retried, asked for two hours
    // ago: the reconciler asks Stripe again with the same key, and Stripe
    // answers with the refund it made (not a second one).
    let (status, left) = api.refund(&id, json!({ "amount": "5.00" })).await;
    assert_eq!(status, StatusCode::CREATED, "{left}");
    let left_id = left["id"].as_str().unwrap().to_owned();
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE refunds SET stripe_refund_id = NULL, status = 'requested',
                 created_at = now() - interval '2 hours'
             WHERE public_id = '{left_id}'"
        ))
        .await
        .unwrap();
    let listed = |refund_id: String| {
        let api = &api;
        let id = &id;
        async move {
            api.refunds(id)
                .await
                .into_iter()
                .find(|r| r["id"] == refund_id.as_str())
                .unwrap()
        }
    };
    app.eventually("the reconciler finished it", || async {
        listed(left_id.clone()).await["status"] != "requested"
    })
    .await;
    assert_eq!(listed(left_id.clone()).await["status"], "succeeded");
    assert_eq!(refunded_at_stripe(&app, &id).await, 900);

    // And one that never reached Stripe, a day old (Stripe has forgotten
    // its key): refused, nothing refunded, what it held is free again.
    let intent = payment_intent_of(&app, &id).await;
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO refunds (public_id, payment_intent_id, amount_minor, status, source,
                 created_at)
             VALUES ('rf_neverreachedstripe0001', '{intent}', 100, 'requested', 'api',
                 now() - interval '25 hours')"
        ))
        .await
        .unwrap();
    app.eventually("the reconciler gave up on it", || async {
        listed("rf_neverreachedstripe0001".into()).await["status"] != "requested"
    })
    .await;
    let never = listed("rf_neverreachedstripe0001".into()).await;
    assert_eq!(never["status"], "refused");
    assert_eq!(never["failure_reason"], "refund_not_created");
    assert_eq!(refunded_at_stripe(&app, &id).await, 900);
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded"], "9.00");
    assert_eq!(payment["refunded"], true);
}

#[tokio::test]
async fn an_order_s_refunds_and_the_api_s_share_what_is_left() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    // A checkout payment: its order's refunds are the back office's.
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let (_, history) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let payment = history["data"][0].clone();
    let id = payment["id"].as_str().unwrap().to_owned();
    let order_id = payment["order_id"].as_i64().expect("a checkout payment");
    let total = payment["amount_minor"].as_i64().unwrap();
    assert!(total > 200, "{payment}");

    // 1.00 of the order refunded in Stripe's dashboard.
    let intent = payment_intent_of(&app, &id).await;
    refund_at_stripe(&app, &intent, "100").await;
    app.eventually("the staff refund listed", || async {
        api.refunds(&id).await.len() == 1
    })
    .await;
    // The API may take the rest, not a cent more.
    let rest = total - 100;
    let too_much = format!("{}.{:02}", (rest + 1) / 100, (rest + 1) % 100);
    let (status, error) = api.refund(&id, json!({ "amount": too_much })).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_too_large",
    );
    let (status, refund) = api.refund(&id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["amount_minor"], rest);
    let mut conn = app.db().await;
    let orders_refunds: Vec<String> = diesel::sql_query(format!(
        "SELECT source FROM refunds WHERE order_id = {order_id} ORDER BY id"
    ))
    .load::<Source>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.source)
    .collect();
    assert_eq!(
        orders_refunds,
        ["stripe", "api"],
        "the back office sees both refunds of the order"
    );
    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["refunded"], true, "{payment}");
    // The order's page in the back office says who asked for each.
    let staff = crate::admin::Staff::signed_in(&app, "ops@example.com").await;
    let number: String = storefront::db::schema::orders::table
        .find(order_id)
        .select(storefront::db::schema::orders::number)
        .first(&mut conn)
        .await
        .unwrap();
    let (status, page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Stripe&#39;s dashboard, "), "{page}");
    assert!(page.contains("The payments API, "), "{page}");
}

#[derive(diesel::QueryableByName)]
struct Source {
    #[diesel(sql_type = diesel::sql_types::Text)]
    source: String,
}
