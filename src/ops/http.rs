//! Operations: liveness and readiness probes for load balancers and
//! orchestrators, and the Prometheus metrics.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use diesel_async::SimpleAsyncConnection;
use prometheus::{Encoder, TextEncoder};
use serde_json::json;

use crate::catalog::cache::Catalog;
use crate::db::{DbPool, ReadStats};
use crate::metrics;
use crate::payments_api::key_cache::ApiKeyCache;
use crate::state::AppState;

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the node can do useful work, the database answers within
/// a second.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let check = async {
        let mut conn = state.db.get().await.map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1")
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(1), check).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": "error"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": "timeout"})),
    }
}

/// Every PostgreSQL pool of the node, for the metrics.
pub struct NodePools(pub Arc<[DbPool]>);

/// `GET /metrics` on the metrics listener (`METRICS_BIND`): the process's
/// metrics, with the connections of all the node's pools summed, and the
/// node's catalog cache, API key cache and reads by server.
pub async fn metrics(
    pools: web::Data<NodePools>,
    catalog: web::Data<Catalog>,
    api_keys: web::Data<ApiKeyCache>,
    reads: web::Data<ReadStats>,
) -> HttpResponse {
    let metrics = metrics::get();
    metrics.set_pool_connections(&pools.0);
    let node = metrics::catalog(catalog.stats()).and_then(|catalog| {
        let api_keys = metrics::api_keys(api_keys.listening(), api_keys.kept())?;
        let reads = metrics::reads(reads.counts())?;
        Ok(catalog.into_iter().chain(api_keys).chain(reads))
    });
    let families = node.map(|node| metrics.gather().into_iter().chain(node).collect::<Vec<_>>());
    let mut body = Vec::new();
    let encoded =
        families.and_then(|families| Ok(TextEncoder::new().encode(&families, &mut body)?));
    if let Err(error) = encoded {
        tracing::error!(%error, "encoding metrics");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
