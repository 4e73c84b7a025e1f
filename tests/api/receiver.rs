//! A merchant's webhook endpoint for the tests: an HTTP server on a free
//! port that keeps every request it gets (body and signature header) and
//! answers with the statuses it is told to, then 200.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request the endpoint got.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: web::Bytes,
    pub signature: String,
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<u16>>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    server: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let state = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/events"),
            shared,
            server: handle,
        }
    }

    /// The next requests get these statuses, in order (instead of any
    /// not used yet); then 200 again.
    pub fn answer_next(&self, statuses: &[u16]) {
        *self.shared.answers.lock().unwrap() = statuses.iter().copied().collect();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The events it got and answered with a 2xx, as JSON.
    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.received()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(Received::json)
            .collect()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

async fn receive(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let status = shared.answers.lock().unwrap().pop_front().unwrap_or(200);
    let signature = req
        .headers()
        .get("storefront-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    shared.received.lock().unwrap().push(Received {
        body,
        signature,
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}
