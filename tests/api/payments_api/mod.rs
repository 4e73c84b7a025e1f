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

mod async_debits;
pub(crate) mod bursts;
mod debits;
mod events;
mod keys;
mod lost_answers;
mod payers;
mod refunds;
mod requests;

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
    // The debit's own payment_intent.succeeded is delivered first: else it
    // could come after, and settle what this pretends was lost.
    app.eventually("every payment_intent.succeeded delivered", || async {
        let sent = app
            .stripe_get("/v1/events?type=payment_intent.succeeded&limit=100")
            .await["data"]
            .as_array()
            .unwrap()
            .len();
        delivered(app, "payment_intent.succeeded").await >= sent
    })
    .await;
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

async fn delivered(app: &TestApp, kind: &str) -> usize {
    app.sim_deliveries()
        .await
        .iter()
        .filter(|d| d["event_type"] == kind && d["status"].as_u64() == Some(200))
        .count()
}
