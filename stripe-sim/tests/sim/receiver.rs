//! A webhook receiver for tests: records every request and answers with
//! scripted statuses (then 200). Signatures are checked here, independently of
//! the simulator's code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: String,
    pub signature: String,
    pub user_agent: String,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Log {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<u16>>,
}

pub struct Receiver {
    pub url: String,
    log: Arc<Log>,
    handle: ServerHandle,
}

async fn record(req: HttpRequest, body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    log.received.lock().unwrap().push(Received {
        content_type: header("Content-Type"),
        signature: header("Stripe-Signature"),
        user_agent: header("User-Agent"),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let status = log.script.lock().unwrap().pop_front().unwrap_or(200);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    /// Answers the first requests with `script`'s statuses, later ones with 200.
    pub async fn start(script: &[u16]) -> Self {
        let log = Arc::new(Log::default());
        log.script.lock().unwrap().extend(script);
        let data = web::Data::from(log.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind");
        let url = format!("http://{}/webhooks/stripe", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, log, handle }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Verifies `Stripe-Signature` as Stripe's libraries do: any `v1` matching
/// HMAC-SHA256(secret, "{t}.{body}"), and `t` within `tolerance` of `now`.
/// Returns `t`.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<i64, String> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v1)) => signatures.push(v1.to_owned()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("no timestamp")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if !signatures.contains(&expected) {
        return Err(format!("no v1 signature matches in {header}"));
    }
    if (now - timestamp).abs() > tolerance {
        return Err(format!("timestamp {timestamp} is outside the tolerance"));
    }
    Ok(timestamp)
}
