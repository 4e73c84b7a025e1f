//! A simulator per test and helpers to talk to it.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use stripe_sim::{Config, Simulator};

/// Form fields to add to or change in a request.
pub type Fields<'a> = &'a [(&'a str, &'a str)];

pub const KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";

pub struct Sim {
    sim: Simulator,
    pub base: String,
    pub http: reqwest::Client,
}

/// A response from the API: status, headers and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        self.body
    }

    /// Asserts an error reply and returns its `error` object.
    #[track_caller]
    pub fn error(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        crate::schema::assert_valid("error", &self.body);
        self.body["error"].clone()
    }
}

pub async fn start() -> Sim {
    start_config(test_config()).await
}

pub async fn start_with(webhook_max_attempts: u32) -> Sim {
    start_config(Config {
        webhook_max_attempts,
        ..test_config()
    })
    .await
}

/// What the tests run with unless they say otherwise: any free port, quick retries.
pub fn test_config() -> Config {
    Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        webhook_retry_base: Duration::from_millis(100),
        webhook_max_attempts: 4,
        ..Config::default()
    }
}

pub async fn start_config(config: Config) -> Sim {
    let sim = Simulator::start(config)
        .await
        .expect("the simulator starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    Sim {
        base: sim.base_url(),
        sim,
        http,
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The ids of a list's objects, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The line items and URLs of a typical one-item session.
pub fn session_params() -> Vec<(&'static str, String)> {
    vec![
        ("mode", "payment".into()),
        (
            "success_url",
            "https://shop.test/thanks?session_id={CHECKOUT_SESSION_ID}".into(),
        ),
        ("cancel_url", "https://shop.test/cart".into()),
        ("line_items[0][price_data][currency]", "usd".into()),
        ("line_items[0][price_data][unit_amount]", "1250".into()),
        (
            "line_items[0][price_data][product_data][name]",
            "Tee shirt".into(),
        ),
        ("line_items[0][quantity]", "2".into()),
    ]
}

impl Sim {
    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, String)]) -> Reply {
        self.post_as(path, form, KEY, None).await
    }

    pub async fn post_as(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .form(form);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        Self::reply(request.send().await.expect("the simulator answers")).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .query(query)
            .send()
            .await
            .expect("the simulator answers");
        Self::reply(response).await
    }

    /// `POST /_sim/...` with a JSON body.
    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_sim/{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the simulator answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// The delivery log once it has at least `count` entries (or after 10 s): a
    /// receiver sees a request before the simulator logs its answer.
    pub async fn deliveries_until(&self, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.deliveries().await;
            if log.len() >= count || std::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn deliveries(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/_sim/deliveries", self.base))
            .send()
            .await
            .expect("the simulator answers");
        response.json().await.expect("JSON")
    }

    pub async fn create_session(&self, extra: &[(&'static str, &str)]) -> Value {
        let mut form = session_params();
        form.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let session = self.post("/v1/checkout/sessions", &form).await.ok();
        crate::schema::assert_valid("checkout.session", &session);
        session
    }

    pub async fn session(&self, id: &str) -> Value {
        self.get(&format!("/v1/checkout/sessions/{id}"), &[])
            .await
            .ok()
    }

    /// Submits the hosted payment form with a card number and sensible other fields.
    pub async fn pay(&self, session: &Value, card: &str) -> reqwest::Response {
        self.pay_form(session, &[("card_number", card)]).await
    }

    pub async fn pay_form(&self, session: &Value, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![
            ("email", "jenny@example.com"),
            ("exp_month", "12"),
            ("exp_year", "45"),
            ("cvc", "123"),
            ("name", "Jenny Rosen"),
        ];
        for (key, value) in fields {
            form.retain(|(k, _)| k != key);
            form.push((key, value));
        }
        let url = session["url"].as_str().expect("an open session has a url");
        self.http
            .post(url)
            .form(&form)
            .send()
            .await
            .expect("the page answers")
    }

    /// Pays a session with 4242… and returns it, completed.
    pub async fn paid_session(&self, extra: &[(&'static str, &str)]) -> Value {
        let session = self.create_session(extra).await;
        let response = self.pay(&session, "4242 4242 4242 4242").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        self.session(session["id"].as_str().unwrap()).await
    }

    pub async fn event_types(&self) -> Vec<String> {
        let events = self.get("/v1/events", &[("limit", "100")]).await.ok();
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}
