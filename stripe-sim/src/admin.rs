//! `/_sim/*`: unauthenticated JSON endpoints for tests to steer the simulator.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::payments;
use crate::rate_limit::RateLimit;
use crate::state::{Faults, Shared};

/// A partial update of the faults: absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsPatch {
    latency_ms: Option<u64>,
    error_rate: Option<u32>,
    error_status: Option<u16>,
    webhook_duplicate: Option<bool>,
    webhook_out_of_order: Option<bool>,
    webhook_drop: Option<bool>,
    webhook_drop_types: Option<Vec<String>>,
    clock_offset_secs: Option<i64>,
}

/// A change of the rate limit: absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitPatch {
    reads_per_second: Option<u32>,
    writes_per_second: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

fn bad_request(message: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message.into() }))
}

/// An empty body counts as `{}`.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|err| err.to_string())
}

pub async fn get_faults(shared: web::Data<Shared>) -> HttpResponse {
    let faults: Faults = shared.lock().faults.clone();
    HttpResponse::Ok().json(faults)
}

pub async fn set_faults(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let patch: FaultsPatch = match parse(&body) {
        Ok(patch) => patch,
        Err(message) => return bad_request(message),
    };
    if patch.error_rate.is_some_and(|rate| rate > 100) {
        return bad_request("error_rate is a percentage from 0 to 100");
    }
    if patch
        .error_status
        .is_some_and(|s| ![500, 429, 409, 400, 401].contains(&s))
    {
        return bad_request("error_status must be 500, 429, 409, 400 or 401");
    }
    let shared = shared.into_inner();
    let faults = shared.with_state(|st| {
        let f = &mut st.faults;
        f.latency_ms = patch.latency_ms.unwrap_or(f.latency_ms);
        f.error_status = patch.error_status.unwrap_or(f.error_status);
        f.webhook_duplicate = patch.webhook_duplicate.unwrap_or(f.webhook_duplicate);
        f.webhook_out_of_order = patch.webhook_out_of_order.unwrap_or(f.webhook_out_of_order);
        f.webhook_drop = patch.webhook_drop.unwrap_or(f.webhook_drop);
        if let Some(types) = patch.webhook_drop_types {
            f.webhook_drop_types = types;
        }
        f.clock_offset_secs = patch.clock_offset_secs.unwrap_or(f.clock_offset_secs);
        if let Some(rate) = patch.error_rate {
            f.error_rate = rate;
            // Count afresh so the failing requests are predictable from here on.
            st.fault_counter = 0;
        }
        st.faults.clone()
    });
    HttpResponse::Ok().json(faults)
}

pub async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    let faults = shared.with_state(|st| {
        st.faults = Faults::default();
        st.fault_counter = 0;
        let configured = st.configured_rate_limit;
        st.rate_limiter.set(configured);
        st.faults.clone()
    });
    HttpResponse::Ok().json(faults)
}

pub async fn advance_clock(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let advance: Advance = match parse(&body) {
        Ok(advance) => advance,
        Err(message) => return bad_request(message),
    };
    if advance.seconds < 0 {
        return bad_request("the clock only moves forward: seconds must be >= 0");
    }
    let shared = shared.into_inner();
    let now = shared.with_state(|st| {
        st.clock_advance = st.clock_advance.saturating_add(advance.seconds);
        // Expire, settle and sweep at once rather than at the next tick, so tests need not wait.
        st.tick();
        st.now()
    });
    HttpResponse::Ok().json(json!({ "now": now }))
}

pub async fn get_rate_limit(shared: web::Data<Shared>) -> HttpResponse {
    let report = shared.lock().rate_limiter.report();
    HttpResponse::Ok().json(report)
}

/// Sets the limits (0 is no limit) and starts counting the peak rates afresh.
pub async fn set_rate_limit(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let patch: RateLimitPatch = match parse(&body) {
        Ok(patch) => patch,
        Err(message) => return bad_request(message),
    };
    let mut st = shared.lock();
    let current = st.rate_limiter.report().limit;
    st.rate_limiter.set(RateLimit {
        reads_per_second: patch.reads_per_second.unwrap_or(current.reads_per_second),
        writes_per_second: patch.writes_per_second.unwrap_or(current.writes_per_second),
    });
    HttpResponse::Ok().json(st.rate_limiter.report())
}

/// Settles every bank debit and refund waiting to, now rather than after
/// `Config::settlement_delay`.
pub async fn settle(shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    let settled = shared.with_state(payments::run_all);
    HttpResponse::Ok().json(json!({ "settled": settled }))
}

/// How many objects of each kind the simulator holds (see `Config::max_objects`).
pub async fn stats(shared: web::Data<Shared>) -> HttpResponse {
    let counts = shared.lock().counts();
    HttpResponse::Ok().json(counts)
}

pub async fn deliveries(shared: web::Data<Shared>) -> HttpResponse {
    let records = shared.lock().deliveries.clone();
    HttpResponse::Ok().json(records)
}
