//! The route table and the `/v1` request pipeline: authentication, injected
//! faults, parameter parsing, idempotency, latency, then the endpoint itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;

use crate::error::ApiError;
use crate::form::Params;
use crate::model::API_VERSION;
use crate::state::{Fingerprint, IdempotencyRecord, Idempotent, RequestRef, Shared};
use crate::{admin, api, hosted, ids};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/{tail:.*}").to(api_entry))
        .service(
            web::scope("/_sim")
                .route("/faults", web::get().to(admin::get_faults))
                .route("/faults", web::post().to(admin::set_faults))
                .route("/reset", web::post().to(admin::reset))
                .route("/advance_clock", web::post().to(admin::advance_clock))
                .route("/deliveries", web::get().to(admin::deliveries))
                .route("/stats", web::get().to(admin::stats))
                .route("/settle", web::post().to(admin::settle))
                .route("/rate_limit", web::get().to(admin::get_rate_limit))
                .route("/rate_limit", web::post().to(admin::set_rate_limit)),
        )
        .service(
            web::resource("/c/pay/{id}")
                .route(web::get().to(hosted::show))
                .route(web::post().to(hosted::pay)),
        )
        .service(
            web::resource("/c/pay/{id}/authenticate").route(web::post().to(hosted::authenticate)),
        );
}

/// A finished `/v1` response.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    request_id: String,
    replayed: bool,
    should_retry: bool,
}

impl Reply {
    fn json(status: StatusCode, body: &serde_json::Value, request_id: &str) -> Self {
        Self {
            status,
            // Stripe pretty-prints its responses.
            body: serde_json::to_vec_pretty(body).unwrap_or_default(),
            request_id: request_id.to_owned(),
            replayed: false,
            should_retry: false,
        }
    }

    fn error(err: &ApiError, request_id: &str) -> Self {
        Self::json(err.status, &err.body(request_id), request_id)
    }

    fn should_retry(mut self) -> Self {
        self.should_retry = true;
        self
    }
}

async fn api_entry(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    let request_id = ids::request();
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let reply = run(
        &shared,
        &req,
        &body,
        &request_id,
        idempotency_key.as_deref(),
    )
    .await;
    tracing::info!(
        method = %req.method(),
        path = %req.path(),
        status = reply.status.as_u16(),
        request.id = %reply.request_id,
        replayed = reply.replayed,
        "api request"
    );
    let mut response = HttpResponse::build(reply.status);
    response
        .content_type("application/json")
        .insert_header(("Request-Id", reply.request_id))
        .insert_header(("Stripe-Version", API_VERSION))
        .insert_header(("Cache-Control", "no-cache, no-store"));
    if let Some(key) = idempotency_key {
        response.insert_header(("Idempotency-Key", key));
    }
    if reply.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    if reply.should_retry {
        response.insert_header(("Stripe-Should-Retry", "true"));
    }
    if reply.status == StatusCode::UNAUTHORIZED {
        response.insert_header(("WWW-Authenticate", "Basic realm=\"Stripe\""));
    }
    response.body(reply.body)
}

async fn run(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    body: &[u8],
    request_id: &str,
    idempotency_key: Option<&str>,
) -> Reply {
    let api_key = match authenticate(req) {
        Ok(key) => key,
        Err(err) => return Reply::error(&err, request_id),
    };
    let method = req.method().as_str();
    // Stripe's rate limiter, and the injected faults that act like it, run
    // before the idempotency layer: nothing is stored, so a retry with the
    // same key can succeed.
    let admitted = shared
        .lock()
        .rate_limiter
        .admit(&api_key, method != "GET", Instant::now());
    if !admitted {
        return Reply::error(&ApiError::rate_limited(), request_id);
    }
    let fault = shared.lock().injected_fault();
    if let Some(err) = fault {
        let reply = Reply::error(&err, request_id);
        return if err.status == StatusCode::INTERNAL_SERVER_ERROR {
            reply.should_retry()
        } else {
            reply
        };
    }
    let input = if method == "POST" {
        body
    } else {
        req.query_string().as_bytes()
    };
    let params = match Params::parse(input) {
        Ok(params) => params,
        Err(err) => return Reply::error(&err, request_id),
    };

    let mut guard = None;
    if let (Some(key), "POST") = (idempotency_key, method) {
        let fingerprint = Fingerprint::new(method, req.path(), params.tree());
        match reserve(shared, api_key, key, fingerprint, request_id) {
            Ok(reserved) => guard = Some(reserved),
            Err(reply) => return reply,
        }
    }

    let latency = shared.lock().faults.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    let result = shared.with_state(|st| {
        st.request = Some(RequestRef {
            id: request_id.to_owned(),
            idempotency_key: idempotency_key.map(str::to_owned),
        });
        let result = api::handle(st, method, req.path(), &params);
        st.request = None;
        result
    });
    let (reply, keep) = match result {
        Ok(value) => (Reply::json(StatusCode::OK, &value, request_id), true),
        Err(err) => (Reply::error(&err, request_id), !err.before_execution),
    };
    if let Some(guard) = guard {
        guard.finish(keep.then_some(&reply));
    }
    reply
}

/// Bearer (or HTTP Basic with the key as username, as curl `-u sk_test_…:` sends).
fn authenticate(req: &HttpRequest) -> Result<String, ApiError> {
    let Some(header) = req.headers().get("Authorization") else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or \
             we can help at https://support.stripe.com/.",
        ));
    };
    let header = header.to_str().unwrap_or_default().trim();
    let key = if let Some(token) = header.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded);
        text.split(':').next().unwrap_or_default().to_owned()
    } else {
        return Err(ApiError::unauthorized(
            "Invalid API Key provided: use 'Authorization: Bearer sk_test_…'.",
        ));
    };
    let valid = ["sk_test_", "rk_test_"].iter().any(|prefix| {
        key.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    });
    if valid {
        Ok(key)
    } else {
        Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            redact(&key)
        )))
    }
}

/// `sk_test_****…1234`, as Stripe echoes a rejected key.
fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// Claims an idempotency key, or answers from what it already holds.
fn reserve(
    shared: &Arc<Shared>,
    api_key: String,
    key: &str,
    fingerprint: Fingerprint,
    request_id: &str,
) -> Result<InFlight, Reply> {
    if key.chars().count() > 255 {
        return Err(Reply::error(
            &ApiError::invalid_param(
                "Idempotency-Key",
                "Idempotency keys can be at most 255 characters long.",
            ),
            request_id,
        ));
    }
    let scope = format!("{api_key} {key}");
    let mut st = shared.lock();
    match st.idempotent(&scope) {
        None => {
            let created = st.now();
            st.idempotency.insert(IdempotencyRecord {
                id: scope.clone(),
                created,
                entry: Idempotent::InFlight { fingerprint },
            });
            Ok(InFlight {
                shared: shared.clone(),
                scope,
                finished: false,
            })
        }
        Some(
            Idempotent::Done {
                fingerprint: first, ..
            }
            | Idempotent::InFlight {
                fingerprint: first, ..
            },
        ) if *first != fingerprint => Err(Reply::error(
            &ApiError::idempotency_mismatch(key),
            request_id,
        )),
        Some(Idempotent::Done {
            status,
            body,
            request_id: first_request,
            ..
        }) => Err(Reply {
            status: StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            body: body.to_vec(),
            request_id: first_request.clone(),
            replayed: true,
            should_retry: false,
        }),
        Some(Idempotent::InFlight { .. }) => {
            Err(Reply::error(&ApiError::idempotency_in_use(key), request_id).should_retry())
        }
    }
}

/// An idempotency key being executed; releases the key if the request is abandoned.
struct InFlight {
    shared: Arc<Shared>,
    scope: String,
    finished: bool,
}

impl InFlight {
    /// Stores the response for replay, or (for validation failures) forgets the key.
    fn finish(mut self, reply: Option<&Reply>) {
        self.finished = true;
        let mut st = self.shared.lock();
        let Some(reply) = reply else {
            st.idempotency.remove(&self.scope);
            return;
        };
        if let Some(record) = st.idempotency.get_mut(&self.scope)
            && let Idempotent::InFlight { fingerprint } = &record.entry
        {
            record.entry = Idempotent::Done {
                fingerprint: *fingerprint,
                status: reply.status.as_u16(),
                body: reply.body.clone().into_boxed_slice(),
                request_id: reply.request_id.clone(),
            };
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.lock().idempotency.remove(&self.scope);
        }
    }
}
