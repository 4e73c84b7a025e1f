//! Events to merchants: webhook endpoints managed through the API, events
//! written with their change and delivered signed, retried, logged, given
//! up after three days and replayed.

use storefront::config::Secret;
use storefront::stripe::webhook::verify;

use super::*;
use crate::receiver::Receiver;

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// Registers `url` for `events`; returns the endpoint (with its secret).
    async fn endpoint(&self, url: &str, events: &[&str]) -> Value {
        let (status, endpoint) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/webhook_endpoints",
                Some(json!({ "url": url, "enabled_events": events })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        endpoint
    }

    async fn event(&self, id: &str) -> Value {
        let (status, event) = self.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{event}");
        event
    }
}

/// Each delivery's signature is valid for the endpoint's secret, on the raw bytes.
fn assert_signed(receiver: &Receiver, secret: &str) {
    let now = chrono::Utc::now().timestamp();
    for received in receiver.received() {
        assert!(
            received.signature.starts_with("t="),
            "{}",
            received.signature
        );
        assert_eq!(
            verify(
                &received.body,
                &received.signature,
                &Secret::new(secret),
                now,
                300
            ),
            Ok(()),
            "{}",
            String::from_utf8_lossy(&received.body)
        );
    }
}

fn types(events: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types
}

#[tokio::test]
async fn payments_and_orders_are_told_to_the_endpoints_that_want_them_signed_once_each() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let everything = Receiver::start().await;
    let successes = Receiver::start().await;
    let all = api.endpoint(&everything.url, &["*"]).await;
    let some = api
        .endpoint(&successes.url, &["payment.succeeded", "order.paid"])
        .await;
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{all}");
    assert_ne!(all["secret"], some["secret"]);
    // The secret is shown once.
    let (_, listed) = api.get("/api/v1/webhook_endpoints").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(listed["data"][0].get("secret").is_none(), "{listed}");
    let (_, one) = api
        .get(&format!(
            "/api/v1/webhook_endpoints/{}",
            all["id"].as_str().unwrap()
        ))
        .await;
    assert!(one.get("secret").is_none(), "{one}");

    // A shopper pays (order.paid, payment.succeeded), the merchant debits
    // (payment.succeeded), refunds part of it (payment.refunded), a declined
    // debit fails (payment.failed), and the order is refunded at Stripe
    // (order.refunded, payment.refunded).
    let account = checkout_and_pay(&app, CARD_OK, true).await;
    let (_, debit) = api.debit(&account, "12.00", "usd").await;
    let debit_id = debit["id"].as_str().unwrap();
    let (status, refund) = read(
        api.request(
            reqwest::Method::POST,
            &format!("/api/v1/payments/{debit_id}/refunds"),
        )
        .header("Idempotency-Key", "events-refund")
        .json(&json!({ "amount": "2.00" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    let declining = checkout_and_pay(&app, CARD_DECLINES_LATER, true).await;
    let (status, _) = api.debit(&declining, "5.00", "usd").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let order = app.orders().await[0].clone();
    refund_at_stripe(&app, order.payment_intent.as_deref().unwrap(), "2900").await;

    let expected = [
        "order.paid",
        "order.paid",
        "order.refunded",
        "payment.failed",
        "payment.refunded",
        "payment.refunded",
        "payment.succeeded",
        "payment.succeeded",
        "payment.succeeded",
    ];
    app.eventually("every event delivered", || async {
        everything.accepted().len() >= expected.len()
    })
    .await;
    let got = everything.accepted();
    assert_eq!(types(&got), expected);
    assert_signed(&everything, &secret);
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), got.len(), "each event once");
    for event in &got {
        assert_eq!(event["object"], "event");
        assert_eq!(event["livemode"], false);
        assert!(event["created"].is_i64());
    }
    // The data is the object as the change left it.
    let refunded = got
        .iter()
        .find(|e| e["type"] == "payment.refunded" && e["data"]["object"]["id"] == debit_id)
        .unwrap();
    assert_eq!(refunded["data"]["object"]["amount_refunded"], "2.00");
    let order_refunded = got.iter().find(|e| e["type"] == "order.refunded").unwrap();
    let order_object = &order_refunded["data"]["object"];
    assert_eq!(order_object["status"], "refunded", "{order_object}");
    assert_eq!(
        order_object["amount_total"], "29.00",
        "the items and their shipping"
    );
    assert_eq!(
        order_object["items"][0]["product_name"],
        "Aurora Ceramic Mug"
    );
    let failed = got.iter().find(|e| e["type"] == "payment.failed").unwrap();
    assert_eq!(failed["data"]["object"]["failure_code"], "card_declined");

    app.eventually("the other endpoint's events delivered", || async {
        successes.accepted().len() >= 5
    })
    .await;
    assert_eq!(
        types(&successes.accepted()),
        [
            "order.paid",
            "order.paid",
            "payment.succeeded",
            "payment.succeeded",
            "payment.succeeded"
        ]
    );
    assert_signed(&successes, some["secret"].as_str().unwrap());
    // The events are listed, newest first, one type at a time if asked.
    let (_, listed) = api.get("/api/v1/events?limit=100").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), expected.len());
    let (_, paid) = api.get("/api/v1/events?type=order.paid").await;
    assert_eq!(paid["data"].as_array().unwrap().len(), 2);
    everything.stop().await;
    successes.stop().await;
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_logged_given_up_after_three_days_and_replayed()
{
    let app = spawn_app_with(&[("EVENT_RETRY_MS", "100")]).await;
    let api = Api::new(&app).await;
    let receiver = Receiver::start().await;
    let endpoint = api.endpoint(&receiver.url, &["payment.succeeded"]).await;
    receiver.answer_next(&[500, 503]);

    checkout_and_pay(&app, CARD_OK, false).await;
    app.eventually("delivered on the third try", || async {
        receiver.accepted().len() == 1
    })
    .await;
    let event_id = receiver.accepted()[0]["id"].as_str().unwrap().to_owned();
    let event = api.event(&event_id).await;
    let delivery = &event["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{event}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["endpoint_id"], endpoint["id"]);
    let log = delivery["log"].as_array().unwrap();
    let statuses: Vec<&Value> = log.iter().map(|a| &a["response_status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)]);
    assert_eq!(
        log[0]["error"],
        "the endpoint answered 500 Internal Server Error"
    );
    assert!(log[2]["error"].is_null());
    assert!(log.iter().all(|a| a["duration_ms"].as_i64().unwrap() >= 0));
    let (_, deliveries) = api
        .get(&format!(
            "/api/v1/webhook_endpoints/{}/deliveries",
            endpoint["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(deliveries["data"][0]["log"], delivery["log"]);

    // An endpoint that stays down past three days after the event: failed.
    receiver.answer_next(&[500; 100]);
    let replayed = api
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/events/{event_id}/replay"),
        )
        .send()
        .await
        .unwrap();
    let (status, replay) = read(replayed).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replay}");
    let replay_id = replay["data"][0]["id"].as_i64().unwrap();
    app.eventually("the replay tried and failing", || async {
        receiver.received().len() >= 5
    })
    .await;
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE api_events SET created_at = now() - interval '3 days'
             WHERE id = '{event_id}'"
        ))
        .await
        .unwrap();
    app.eventually("given up", || async {
        api.event(&event_id).await["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == replay_id && d["status"] == "failed")
    })
    .await;
    let tries = receiver.received().len();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), tries, "no try after giving up");

    // Replayed once the endpoint is back: the same event, the same id.
    receiver.answer_next(&[]);
    let (status, _) = read(
        api.request(
            reqwest::Method::POST,
            &format!(
                "/api/v1/events/{event_id}/replay?endpoint_id={}",
                endpoint["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.eventually("delivered again", || async {
        receiver.accepted().len() == 2
    })
    .await;
    let accepted = receiver.accepted();
    assert_eq!(accepted[1]["id"], accepted[0]["id"]);
    assert_eq!(accepted[1]["data"], accepted[0]["data"]);
    assert_signed(&receiver, endpoint["secret"].as_str().unwrap());
    receiver.stop().await;
}

#[tokio::test]
async fn a_disabled_endpoint_gets_nothing_until_enabled_and_a_deleted_one_nothing_at_all() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let receiver = Receiver::start().await;
    let endpoint = api.endpoint(&receiver.url, &["order.paid"]).await;
    let path = format!(
        "/api/v1/webhook_endpoints/{}",
        endpoint["id"].as_str().unwrap()
    );

    let (status, disabled) = api
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["status"], "disabled");
    checkout_and_pay(&app, CARD_OK, false).await;
    let (_, events) = api.get("/api/v1/events?type=order.paid").await;
    let event_id = events["data"][0]["id"].as_str().unwrap().to_owned();
    // Recorded for it, not sent.
    assert_eq!(
        api.event(&event_id).await["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let (status, enabled) = api
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "disabled": false, "enabled_events": ["*"], "description": "ERP" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["enabled_events"], json!(["*"]));
    assert_eq!(enabled["description"], "ERP");
    checkout_and_pay(&app, CARD_OK, false).await;
    app.eventually("the second order's events delivered", || async {
        receiver.accepted().len() == 2
    })
    .await;

    let (status, deleted) = api.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["deleted"], true);
    let (status, error) = api.get(&path).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "resource_missing");
    checkout_and_pay(&app, CARD_OK, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.accepted().len(), 2);
    receiver.stop().await;
}

#[tokio::test]
async fn bad_endpoint_and_event_requests_are_typed_errors() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    for (body, code) in [
        (
            json!({ "url": "ftp://example.com/hooks", "enabled_events": ["*"] }),
            "url_invalid",
        ),
        (
            json!({ "url": "http://example.com/hooks", "enabled_events": ["*"] }),
            "url_invalid",
        ),
        (
            json!({ "url": "hooks", "enabled_events": ["*"] }),
            "url_invalid",
        ),
        (
            json!({ "url": "https://u:p@example.com/", "enabled_events": ["*"] }),
            "url_invalid",
        ),
        (
            json!({ "url": "https://example.com/", "enabled_events": [] }),
            "parameter_invalid",
        ),
        (
            json!({ "url": "https://example.com/", "enabled_events": ["charge.exploded"] }),
            "parameter_invalid",
        ),
        (
            json!({ "url": "https://example.com/", "enabled_events": "*" }),
            "parameter_invalid",
        ),
        (
            json!({ "url": "https://example.com/", "enabled_events": ["*"], "secret": "mine" }),
            "parameter_unknown",
        ),
    ] {
        let (status, error) = api
            .send(
                reqwest::Method::POST,
                "/api/v1/webhook_endpoints",
                Some(body.clone()),
            )
            .await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, code);
    }
    let (_, listed) = api.get("/api/v1/webhook_endpoints").await;
    assert!(
        listed["data"].as_array().unwrap().is_empty(),
        "nothing created"
    );

    // At most sixteen.
    for _ in 0..16 {
        api.endpoint("https://example.com/hooks", &["*"]).await;
    }
    let (status, error) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/webhook_endpoints",
            Some(json!({ "url": "https://example.com/17", "enabled_events": ["*"] })),
        )
        .await;
    assert_error(
        status,
        &error,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_endpoints",
    );

    for path in [
        "/api/v1/webhook_endpoints/we_0000000000000000000000",
        "/api/v1/webhook_endpoints/nope",
        "/api/v1/events/evt_0000000000000000000000",
        "/api/v1/webhook_endpoints/we_0000000000000000000000/deliveries",
    ] {
        let (status, error) = api.get(path).await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "resource_missing");
    }
    for path in [
        "/api/v1/events?type=payment.exploded",
        "/api/v1/events?limit=0",
        "/api/v1/events?starting_after=evt_0000000000000000000000",
        "/api/v1/events?colour=red",
    ] {
        let (status, error) = api.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
    }
    let (status, error) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/events/evt_0000000000000000000000/replay",
            None,
        )
        .await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "resource_missing");
    let (status, error) = api
        .send(
            reqwest::Method::PATCH,
            "/api/v1/webhook_endpoints/we_0000000000000000000000",
            Some(json!({ "url": "gopher://x" })),
        )
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "url_invalid");
}

/// The receiving example of README.md, as written there.
fn readme_receiver() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### Receiving events").expect("the section")..];
    let start = section.find("```python\n").expect("a python block") + "```python\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

#[tokio::test]
async fn the_readme_s_receiver_verifies_each_event_and_keeps_it_once() {
    use tokio::io::AsyncBufReadExt;

    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let dir = std::env::temp_dir().join(format!("receiver-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("receiver.py"), readme_receiver()).unwrap();
    let port = crate::helpers::free_port();
    let url = format!("http://127.0.0.1:{port}/events");
    let endpoint = api.endpoint(&url, &["order.paid"]).await;
    let mut python = tokio::process::Command::new("python3")
        .arg("receiver.py")
        .current_dir(&dir)
        .env(
            "STOREFRONT_WEBHOOK_SECRET",
            endpoint["secret"].as_str().unwrap(),
        )
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut lines = tokio::io::BufReader::new(python.stdout.take().unwrap()).lines();
    app.eventually("the receiver listening", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;

    // A forged event is refused.
    let forged = reqwest::Client::new()
        .post(&url)
        .header(
            "Storefront-Signature",
            format!(
                "t={},v1={}",
                chrono::Utc::now().timestamp(),
                "ab".repeat(32)
            ),
        )
        .body(r#"{"id":"evt_forged","type":"order.paid","data":{"object":{"id":1}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // A real one, then the same one twice more: handled once.
    checkout_and_pay(&app, CARD_OK, false).await;
    let (_, events) = api.get("/api/v1/events?type=order.paid").await;
    let event_id = events["data"][0]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, _) = api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/events/{event_id}/replay"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    app.eventually("all three deliveries accepted", || async {
        let event = api.event(&event_id).await;
        let deliveries = event["deliveries"].as_array().unwrap().clone();
        deliveries.len() == 3 && deliveries.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    let order_id = app.orders().await[0].id;
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some(format!("order.paid {order_id}").as_str())
    );
    let more = tokio::time::timeout(std::time::Duration::from_millis(500), lines.next_line()).await;
    assert!(more.is_err(), "handled again: {more:?}");
    python.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
