//! Debits of a saved card: charged, replayed, declined, refunded at Stripe.

use super::*;

#[tokio::test]
async fn a_saved_card_is_debited_off_session_and_the_history_lists_every_payment() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;

    // A shopper checks out with "Save my card for next time" and pays with 4242.
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    assert!(account.starts_with("acct_"), "{account}");
    let customer = customer_of(&app, &account)
        .await
        .expect("the account maps to a Stripe customer");
    assert!(
        customer.starts_with("cus_"),
        "two ids on purpose: {customer}"
    );
    let methods = app
        .stripe_get(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    assert_eq!(methods["data"].as_array().unwrap().len(), 1, "{methods}");

    // The browser payment is in the account's history already.
    let (status, list) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let checkout_payment = list["data"][0].clone();
    assert_eq!(checkout_payment["source"], "checkout");
    // The mug and its Standard shipping, line by line.
    assert_eq!(checkout_payment["amount"], "29.00");
    assert_eq!(checkout_payment["amount_minor"], 2900);
    assert_eq!(
        checkout_payment["lines"],
        json!({"subtotal": "24.00", "subtotal_minor": 2400, "discount": "0.00",
               "discount_minor": 0, "shipping": "5.00", "shipping_minor": 500,
               "tax": "0.00", "tax_minor": 0})
    );
    assert_eq!(checkout_payment["currency"], "usd");
    assert_eq!(checkout_payment["status"], "succeeded");

    // The merchant debits the account: a confirmed off-session PaymentIntent.
    let (status, debit) = api.debit(&account, "42.99", "usd").await;
    assert_eq!(status, StatusCode::CREATED, "{debit}");
    assert_eq!(debit["object"], "payment");
    assert!(debit["id"].as_str().unwrap().starts_with("pay_"));
    assert_eq!(
        (&debit["amount"], &debit["amount_minor"], &debit["currency"]),
        (&json!("42.99"), &json!(4299), &json!("usd"))
    );
    assert_eq!(debit["status"], "succeeded");
    assert_eq!(debit["source"], "api");
    assert_eq!(debit["lines"], json!(null), "a debit has no checkout lines");
    assert_eq!(
        debit["livemode"], false,
        "a test key's payment is a test payment"
    );
    assert_eq!(debit["account_id"], account);
    let intent_id: String = payments::table
        .find(debit["id"].as_str().unwrap())
        .select(payments::stripe_payment_intent_id)
        .first::<Option<String>>(&mut app.db().await)
        .await
        .unwrap()
        .expect("the PaymentIntent is recorded");
    let intent = app
        .stripe_get(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 4299);
    assert_eq!(intent["customer"], customer);
    assert_eq!(intent["metadata"]["payment_id"], debit["id"]);

    // GET returns it.
    let (status, fetched) = api
        .get(&format!(
            "/api/v1/payments/{}",
            debit["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, debit);

    // The same browser checks out again, saving its card again: it pays as
    // the same Stripe customer, so the payment lands on the same account.
    assert_eq!(checkout_and_pay(&app, CARD_OK, true).await, account);
    assert_eq!(
        customer_of(&app, &account).await.as_deref(),
        Some(&*customer)
    );

    // Two more debits, then the history pages newest first.
    let (_, second) = api.debit(&account, "1.00", "usd").await;
    let (_, third) = api.debit(&account, "2", "usd").await;
    assert_eq!(third["amount"], "2.00");
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/accounts/{account}/payments?limit=2");
    let mut pages = Vec::new();
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let data = page["data"].as_array().unwrap().clone();
        pages.push((data.len(), page["has_more"].as_bool().unwrap()));
        seen.extend(data.iter().map(|p| (p["id"].clone(), p["source"].clone())));
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        let last = data.last().unwrap()["id"].as_str().unwrap().to_owned();
        path = format!("/api/v1/accounts/{account}/payments?limit=2&starting_after={last}");
    }
    assert_eq!(pages, vec![(2, true), (2, true), (1, false)]);
    let sources: Vec<&str> = seen.iter().map(|(_, s)| s.as_str().unwrap()).collect();
    assert_eq!(sources, ["api", "api", "checkout", "api", "checkout"]);
    assert_eq!(seen[0].0, third["id"]);
    assert_eq!(seen[1].0, second["id"]);
    assert_eq!(seen[3].0, debit["id"]);
    assert_eq!(seen[4].0, checkout_payment["id"]);

    // Limits are checked.
    for bad in ["0", "101", "abc"] {
        let (status, body) = api
            .get(&format!("/api/v1/accounts/{account}/payments?limit={bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = api
        .get(&format!(
            "/api/v1/accounts/{account}/payments?starting_after=pay_nosuchpaymentatall00"
        ))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "resource_missing");
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer_and_refuses_another_request() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let body = json!({ "account_id": account, "amount": "10.00", "currency": "usd", "description": "Top-up" });

    let first = api.debit_with_key("order-17-debit", body.clone()).await;
    assert_eq!(first.headers().get("idempotent-replayed"), None);
    let (status, first) = read(first).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    // Same key, same request (an equal amount spelt differently): the first answer.
    let mut same = body.clone();
    same["amount"] = json!("10");
    let again = api.debit_with_key("order-17-debit", same).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (status, again) = read(again).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first);

    // Same key, another request: refused, and nothing is charged.
    let mut other = body.clone();
    other["amount"] = json!("11.00");
    let (status, error) = read(api.debit_with_key("order-17-debit", other).await).await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    let (status, error) = read(
        api.request(reqwest::Method::POST, "/api/v1/payments")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(
        status,
        &error,
        StatusCode::BAD_REQUEST,
        "idempotency_key_missing",
    );
    let count: i64 = payments::table
        .filter(payments::order_id.is_null())
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(count, 1, "one debit for one key");

    // A request that died after Stripe charged (answer never recorded): the
    // retry takes over the same payment and Stripe's idempotency replays the
    // charge instead of making a second one.
    let payment_id = first["id"].as_str().unwrap().to_owned();
    diesel::update(api_idempotency::table.filter(api_idempotency::payment_id.eq(&payment_id)))
        .set((
            api_idempotency::response_status.eq(None::<i16>),
            api_idempotency::response_body.eq(None::<Value>),
            api_idempotency::locked_at.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(&mut app.db().await)
        .await
        .unwrap();
    diesel::update(payments::table.find(&payment_id))
        .set(payments::status.eq("processing"))
        .execute(&mut app.db().await)
        .await
        .unwrap();
    let (status, resumed) = read(api.debit_with_key("order-17-debit", body.clone()).await).await;
    assert_eq!(status, StatusCode::CREATED, "{resumed}");
    assert_eq!(resumed["id"], first["id"]);
    assert_eq!(resumed["status"], "succeeded");
    let created = app
        .stripe_get("/v1/events?type=payment_intent.created&limit=100")
        .await;
    let debits = created["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["metadata"]["payment_id"] == first["id"])
        .count();
    assert_eq!(debits, 1, "Stripe charged once");
}

#[tokio::test]
async fn a_declined_saved_card_answers_402_with_the_decline_code() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_DECLINES_LATER, true).await;

    let (status, body) = api.debit(&account, "42.99", "usd").await;
    assert_error(status, &body, StatusCode::PAYMENT_REQUIRED, "card_declined");
    assert_eq!(body["error"]["type"], "card_error");
    assert_eq!(body["error"]["decline_code"], "generic_decline");
    let payment_id = body["error"]["payment_id"].as_str().unwrap();
    let (_, payment) = api.get(&format!("/api/v1/payments/{payment_id}")).await;
    assert_eq!(payment["status"], "failed");
    assert_eq!(payment["failure_code"], "card_declined");
    assert_eq!(payment["decline_code"], "generic_decline");
}

#[tokio::test]
async fn a_card_that_needs_its_holder_answers_402_authentication_required() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_ALWAYS_AUTHENTICATES, true).await;

    let (status, body) = api.debit(&account, "5.00", "usd").await;
    assert_error(
        status,
        &body,
        StatusCode::PAYMENT_REQUIRED,
        "authentication_required",
    );
    let payment_id = body["error"]["payment_id"].as_str().unwrap();
    let (_, payment) = api.get(&format!("/api/v1/payments/{payment_id}")).await;
    assert_eq!(payment["status"], "requires_action");
}

#[tokio::test]
async fn a_3155_card_saved_for_off_session_use_is_debited_without_authentication() {
    // Stripe's 4000 0025 0000 3155 asks for 3D Secure on one-off payments
    // only: once set up with setup_future_usage=off_session, debits succeed.
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_AUTHENTICATES_UNLESS_SET_UP, true).await;

    let (status, body) = api.debit(&account, "5.00", "usd").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Stripe's PaymentIntent for our payment.

#[tokio::test]
async fn refunds_made_at_stripe_show_on_the_payment() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let (status, debit) = api.debit(&account, "42.99", "usd").await;
    assert_eq!(status, StatusCode::CREATED, "{debit}");
    assert_eq!(debit["amount_refunded"], "0.00");
    assert_eq!(debit["amount_refunded_minor"], 0);
    let id = debit["id"].as_str().unwrap().to_owned();
    let payment_intent = payment_intent_of(&app, &id).await;
    let path = format!("/api/v1/payments/{id}");

    refund_at_stripe(&app, &payment_intent, "1000").await;
    app.eventually("10.00 refunded", || async {
        api.get(&path).await.1["amount_refunded"] == "10.00"
    })
    .await;
    refund_at_stripe(&app, &payment_intent, "3299").await;
    app.eventually("all of it refunded", || async {
        api.get(&path).await.1["amount_refunded"] == "42.99"
    })
    .await;

    let (_, payment) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(payment["amount_refunded_minor"], 4299);
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["version"], 3, "each refund is an update");
    // The shop's own payment for the mug was not refunded.
    let (_, history) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let refunds: Vec<&Value> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["amount_refunded"])
        .collect();
    assert_eq!(refunds, [&json!("42.99"), &json!("0.00")]);
}
