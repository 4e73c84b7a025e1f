//! The merchants' payments API through the real stack: HTTP with an API key,
//! PostgreSQL, and the Stripe simulator over HTTP. Shoppers save their card
//! at checkout on the simulator's hosted page; the API then debits it.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use storefront::db::schema::{accounts, api_idempotency, payments};
use storefront::stripe::webhook::sign;

use crate::helpers::{Browser, CARD_OK, TestApp, pay, spawn_app, spawn_app_with};

/// Checkout succeeds and saves the card; off-session debits are declined.
const CARD_DECLINES_LATER: &str = "4000 0000 0000 0341";
/// 3D Secure on every payment, off-session ones included.
const CARD_ALWAYS_AUTHENTICATES: &str = "4000 0027 6000 3184";
/// 3D Secure for one-off payments, but not once set up for off-session use.
const CARD_AUTHENTICATES_UNLESS_SET_UP: &str = "4000 0025 0000 3155";

/// A client of the payments API with a fresh key.
struct Api<'a> {
    app: &'a TestApp,
    key: String,
    http: reqwest::Client,
}

impl<'a> Api<'a> {
    async fn new(app: &'a TestApp) -> Api<'a> {
        let mut conn = app.db().await;
        let key = storefront::payments_api::keys::create_key(&mut conn, "tests")
            .await
            .unwrap();
        Api {
            app,
            key,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.app.url(path))
            .bearer_auth(&self.key)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(
            self.request(reqwest::Method::GET, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn debit_with_key(&self, idempotency_key: &str, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/api/v1/payments")
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn debit(&self, account_id: &str, amount: &str, currency: &str) -> (StatusCode, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        let body = json!({ "account_id": account_id, "amount": amount, "currency": currency });
        read(self.debit_with_key(&key, body).await).await
    }

    async fn patch(&self, id: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::PATCH, &format!("/api/v1/payments/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }
}

/// Status and JSON body; every API answer must be JSON.
async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status} answered {content_type:?}: {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    for field in ["type", "code", "message"] {
        assert!(body["error"][field].is_string(), "{field} in {body}");
    }
    assert!(body["error"].get("param").is_some(), "param in {body}");
}

/// Checks the cart out (ticking "Save my card" if asked) and pays on the
/// hosted page with `card`, completing 3D Secure if the card asks for it.
/// Returns the account the payment was recorded on.
async fn checkout_and_pay(app: &TestApp, card: &str, save_card: bool) -> String {
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let fields: &[(&str, &str)] = if save_card {
        &[("save_card", "1")]
    } else {
        &[]
    };
    let response = app.post_form("/checkout", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let payment_url = response.headers()["location"].to_str().unwrap().to_owned();
    let mut paid = pay(&payment_url, card).await;
    if paid.status() == StatusCode::OK {
        // The simulated 3D Secure challenge: complete it.
        let page = paid.text().await.unwrap();
        let html = scraper::Html::parse_document(&page);
        let form = scraper::Selector::parse("form").unwrap();
        let action = html
            .select(&form)
            .next()
            .and_then(|f| f.value().attr("action"))
            .expect("an authentication form")
            .to_owned();
        paid = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
            .post(action)
            .form(&[("action", "complete")])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(paid.status(), StatusCode::SEE_OTHER, "the card is accepted");
    let success_url = paid.headers()["location"].to_str().unwrap().to_owned();
    app.follow_success(&success_url).await;
    let order = app.orders().await.last().expect("the order").id;
    account_of_order(app, order).await
}

/// The account an order's payment was recorded on.
async fn account_of_order(app: &TestApp, order_id: i64) -> String {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .select(payments::account_id)
        .first(&mut app.db().await)
        .await
        .expect("the order's payment, on an account")
}

async fn customer_of(app: &TestApp, account_id: &str) -> Option<String> {
    accounts::table
        .find(account_id)
        .select(accounts::stripe_customer_id)
        .first(&mut app.db().await)
        .await
        .unwrap()
}

/// Someone else, in their own browser, buys a mug typing the usual shopper
/// email on Stripe's page and saving their card; returns their order's id.
async fn stranger_pays_with_the_same_email(app: &TestApp, opened_first: Option<&str>) -> i64 {
    let stranger = Browser::at(&app.address);
    if let Some(url) = opened_first {
        stranger.client.get(url).send().await.unwrap();
    }
    let response = stranger
        .post_form(
            "/checkout/express",
            &[
                ("product", "aurora-ceramic-mug"),
                ("quantity", "1"),
                ("save_card", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let payment_url = response.headers()["location"].to_str().unwrap().to_owned();
    let paid = pay(&payment_url, CARD_OK).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let success_url = paid.headers()["location"].to_str().unwrap();
    stranger.client.get(success_url).send().await.unwrap();
    app.orders().await.last().unwrap().id
}

#[tokio::test]
async fn an_email_typed_on_stripe_s_page_never_joins_another_shopper_s_account() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let shopper = checkout_and_pay(&app, CARD_OK, true).await;
    let customer = customer_of(&app, &shopper).await.unwrap();

    let order = stranger_pays_with_the_same_email(&app, None).await;

    let stranger = account_of_order(&app, order).await;
    assert_ne!(stranger, shopper);
    assert_eq!(
        customer_of(&app, &shopper).await.as_deref(),
        Some(&*customer)
    );
    let (_, history) = api
        .get(&format!("/api/v1/accounts/{shopper}/payments"))
        .await;
    assert_eq!(history["data"].as_array().unwrap().len(), 1, "{history}");
}

#[tokio::test]
async fn opening_someone_else_s_return_page_does_not_make_you_pay_as_them() {
    let app = spawn_app().await;
    let shopper = checkout_and_pay(&app, CARD_OK, true).await;
    let order = app.orders().await.last().unwrap().id;
    let their_session: Option<String> = storefront::db::schema::orders::table
        .find(order)
        .select(storefront::db::schema::orders::stripe_session_id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let return_page = app.url(&format!(
        "/checkout/success?session_id={}",
        their_session.unwrap()
    ));

    let order = stranger_pays_with_the_same_email(&app, Some(&return_page)).await;

    assert_ne!(account_of_order(&app, order).await, shopper);
}

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
    assert_eq!(checkout_payment["amount"], "24.00");
    assert_eq!(checkout_payment["amount_minor"], 2400);
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

    // The same browser checks out again: it pays as the same Stripe customer,
    // so the payment lands on the same account.
    assert_eq!(checkout_and_pay(&app, CARD_OK, false).await, account);
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
async fn payment_intent_of(app: &TestApp, payment_id: &str) -> String {
    payments::table
        .find(payment_id)
        .select(payments::stripe_payment_intent_id)
        .first::<Option<String>>(&mut app.db().await)
        .await
        .unwrap()
        .expect("a PaymentIntent")
}

/// The PaymentIntent of a debit, as Stripe has it.
async fn intent_of(app: &TestApp, payment_id: &str) -> Value {
    app.stripe_get(&format!(
        "/v1/payment_intents/{}",
        payment_intent_of(app, payment_id).await
    ))
    .await
}

/// Puts a debit back where a lost Stripe answer leaves it, `hours_ago`:
/// `processing`, and its key released for a retry (see `charge`).
async fn lose_answer(app: &TestApp, payment_id: &str, key: &str, hours_ago: i64) {
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE payments SET status = 'processing', stripe_payment_intent_id = NULL,
                 created_at = now() - interval '{hours_ago} hours'
                 WHERE id = '{payment_id}';
             UPDATE api_idempotency SET response_status = NULL, response_body = NULL
                 WHERE key = '{key}';"
        ))
        .await
        .unwrap();
}

/// Delivers a signed event about a PaymentIntent to the app's webhook, as
/// Stripe would.
async fn deliver_intent_event(app: &TestApp, id: &str, kind: &str, intent: Value) {
    let event = json!({
        "id": id, "object": "event", "type": kind,
        "created": chrono::Utc::now().timestamp(), "livemode": false,
        "data": { "object": intent },
    })
    .to_string();
    let signature = sign(
        event.as_bytes(),
        &app.webhook_secret,
        chrono::Utc::now().timestamp(),
    );
    let delivered = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::OK);
}

/// Refunds `amount` (minor units) of the PaymentIntent at the simulator, as
/// the merchant would in Stripe's dashboard.
async fn refund_at_stripe(app: &TestApp, payment_intent: &str, amount: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/refunds", app.sim_url))
        .bearer_auth(crate::helpers::STRIPE_KEY)
        .form(&[("payment_intent", payment_intent), ("amount", amount)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

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

#[tokio::test]
async fn amounts_are_parsed_exactly_against_the_currency() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, true).await;

    for (amount, currency, code) in [
        (json!("42.999"), "usd", "amount_too_precise"),
        (json!("1.5"), "jpy", "amount_too_precise"),
        (json!("0"), "usd", "amount_too_small"),
        (json!("0.49"), "usd", "amount_too_small"),
        (json!("0.29"), "gbp", "amount_too_small"),
        (json!("49"), "jpy", "amount_too_small"),
        (json!("-5"), "usd", "amount_invalid"),
        (json!("1e3"), "usd", "amount_invalid"),
        (json!("10.00"), "xyz", "currency_unsupported"),
        (json!(42.99), "usd", "parameter_invalid"),
    ] {
        let key = uuid::Uuid::new_v4().to_string();
        let body = json!({ "account_id": account, "amount": amount, "currency": currency });
        let (status, error) = read(api.debit_with_key(&key, body).await).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, code);
    }
    // No decimals in yen, and that is fine.
    let (status, body) = api.debit(&account, "4300", "jpy").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["amount"], &body["amount_minor"], &body["currency"]),
        (&json!("4300"), &json!(4300), &json!("jpy"))
    );
}

#[tokio::test]
async fn every_api_route_needs_a_valid_key() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let http = reqwest::Client::new();
    let paths = [
        "/api/v1/payments/pay_0000000000000000000000",
        "/api/v1/accounts/acct_0000000000000000000000/payments",
        "/api/v1/openapi.json",
        "/api/v1/nothing-here",
        "/api",
    ];
    for path in paths {
        let (status, body) = read(http.get(app.url(path)).send().await.unwrap()).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
        for bad in [
            "Bearer sk_store_wrong",
            "Basic abc",
            "Bearer",
            api.key.as_str(),
        ] {
            let response = http
                .get(app.url(path))
                .header("Authorization", bad)
                .send()
                .await
                .unwrap();
            let (status, body) = read(response).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
        }
    }
    let response = http
        .post(app.url("/api/v1/payments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A revoked key stops working.
    let (status, _) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut conn = app.db().await;
    let revoked = storefront::payments_api::keys::revoke_key(&mut conn, &api.key[..17])
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let (status, body) = api.get("/api/v1/openapi.json").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn unknown_payments_accounts_and_routes_are_404_json() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    for path in [
        "/api/v1/payments/pay_0000000000000000000000",
        "/api/v1/payments/not-an-id%00",
        "/api/v1/accounts/acct_0000000000000000000000/payments",
        "/api/v1/accounts/%E2%9C%93/payments",
    ] {
        let (status, body) = api.get(path).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
    }
    let (status, body) = api
        .debit("acct_0000000000000000000000", "1.00", "usd")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
    assert_eq!(body["error"]["param"], "account_id");
    let (status, body) = api.get("/api/v1/refunds").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
    let response = api
        .request(
            reqwest::Method::DELETE,
            "/api/v1/payments/pay_0000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn an_account_without_a_saved_card_cannot_be_debited() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, false).await;
    let (status, body) = api.debit(&account, "1.00", "usd").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_saved_payment_method",
    );
}

#[tokio::test]
async fn patch_changes_a_payment_only_at_the_current_version() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let account = checkout_and_pay(&app, CARD_OK, false).await;
    let (_, list) = api
        .get(&format!("/api/v1/accounts/{account}/payments"))
        .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["data"][0]["version"], 1);

    let (status, updated) = api
        .patch(
            &id,
            json!({ "description": "Mug for Sam", "metadata": { "crm": "42", "note": "gift" }, "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["description"], "Mug for Sam");
    assert_eq!(updated["metadata"]["crm"], "42");

    // A writer still holding version 1 is refused, and nothing changes.
    let (status, body) = api
        .patch(&id, json!({ "description": "Overwritten", "version": 1 }))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "version_conflict");
    let (_, current) = api.get(&format!("/api/v1/payments/{id}")).await;
    assert_eq!(current, updated);

    // Metadata merges; null removes a key.
    let (status, updated) = api
        .patch(
            &id,
            json!({ "metadata": { "note": null, "tier": "gold" }, "version": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 3);
    assert_eq!(
        updated["metadata"],
        json!({ "crm": "42", "order_id": list["data"][0]["metadata"]["order_id"], "tier": "gold" })
    );
    assert_eq!(updated["description"], "Mug for Sam");

    let (status, body) = api
        .patch(&id, json!({ "metadata": { "a[b]": "x" }, "version": 3 }))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "parameter_invalid");
    // A version no payment can have is a bad request, not a stale one.
    for version in [json!(0), json!(-5), json!(3_000_000_000_i64)] {
        let (status, body) = api
            .patch(&id, json!({ "description": "x", "version": version }))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(body["error"]["param"], "version");
    }
    let (status, body) = api
        .patch(
            "pay_0000000000000000000000",
            json!({ "description": "x", "version": 1 }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "resource_missing");
}

#[tokio::test]
async fn malformed_requests_are_4xx_json_never_500() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        api.request(reqwest::Method::POST, "/api/v1/payments")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (b"{not json".to_vec(), "application/json", StatusCode::BAD_REQUEST, "malformed_json"),
        (b"".to_vec(), "application/json", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            br#"{"account_id":"acct_0000000000000000000000","amount":"1.00","currency":"usd","price":"0.01"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
        ),
        (
            br#"{"account_id":7,"amount":"1.00","currency":"usd"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            br#"{"amount":"1.00","currency":"usd"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_missing",
        ),
        (
            br#"{"account_id":"acct_\u0000","amount":"1.00","currency":"usd","description":"\u0000"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            format!(
                r#"{{"account_id":"acct_0000000000000000000000","amount":"1.00","currency":"usd","description":"{}"}}"#,
                "x".repeat(100 * 1024)
            )
            .into_bytes(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            b"account_id=acct_x&amount=1".to_vec(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
        ),
    ];
    for (body, content_type, expected, code) in cases {
        let (status, error) = read(post(body, content_type).await.unwrap()).await;
        assert_error(status, &error, expected, code);
    }
    let (status, error) = api
        .patch("pay_0000000000000000000000", json!({ "version": "one" }))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "parameter_invalid");
    let (status, error) = api
        .get("/api/v1/accounts/acct_0000000000000000000000/payments?colour=red")
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "parameter_invalid");
}

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
async fn delivered(app: &TestApp, kind: &str) -> usize {
    app.sim_deliveries()
        .await
        .iter()
        .filter(|d| d["event_type"] == kind && d["status"].as_u64() == Some(200))
        .count()
}

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
async fn the_openapi_document_is_generated_from_the_route_table_and_lists_every_route() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc,
        serde_json::to_value(storefront::payments_api::openapi()).unwrap()
    );
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("GET", "/api/v1/accounts/{account_id}/payments"),
            ("GET", "/api/v1/openapi.json"),
            ("GET", "/api/v1/payments/{id}"),
            ("PATCH", "/api/v1/payments/{id}"),
            ("POST", "/api/v1/payments"),
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
    // Each documented route is served (a known 4xx, not "no such route").
    for (method, path) in &routes {
        let path = path
            .replace("{id}", "pay_0000000000000000000000")
            .replace("{account_id}", "acct_0000000000000000000000");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = api
            .request(method, &path)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let (_, body) = read(response).await;
        assert_ne!(body["error"]["code"], "route_not_found", "{path}");
    }
    // Requests, responses and errors are described.
    for schema in [
        "CreatePayment",
        "UpdatePayment",
        "PaymentObject",
        "PaymentList",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} in components"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}
