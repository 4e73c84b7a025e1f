//! `POST /webhooks/stripe`: verify the signature on the raw bytes, then
//! process the event; answer fast.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::dispatch::process;
use crate::metrics;
use crate::state::AppState;
use crate::stripe::types::Event;
use crate::stripe::webhook::{DEFAULT_TOLERANCE_SECS, verify};

/// Stripe events are small; anything near this is not from Stripe.
pub const WEBHOOK_BODY_LIMIT: usize = 512 * 1024;

/// Registered with its own body limit in the route table.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = verify(
        &body,
        header,
        &state.stripe.webhook_secret,
        now,
        DEFAULT_TOLERANCE_SECS,
    ) {
        tracing::warn!(%error, "rejected webhook");
        metrics::get().webhook("unverified", "rejected");
        return reply(StatusCode::BAD_REQUEST, json!({"error": error.to_string()}));
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "malformed event"})),
    };
    let outcome = process(&state.db, &state.stripe.client, &event).await;
    let label = match &outcome {
        Ok(true) => "processed",
        Ok(false) => "duplicate",
        Err(_) => "failed",
    };
    metrics::get().webhook(&event.kind, label);
    match outcome {
        Ok(true) => reply(StatusCode::OK, json!({"received": true})),
        Ok(false) => reply(StatusCode::OK, json!({"received": true, "duplicate": true})),
        Err(error) => {
            // Stripe retries non-2xx deliveries, so a transient failure heals itself.
            tracing::error!(error = ?error, event.id = %event.id, event.kind = %event.kind, "webhook processing failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "processing failed"}),
            )
        }
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}
