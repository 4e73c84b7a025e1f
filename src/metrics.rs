//! Prometheus metrics (served by `ops::http`): one process-wide registry, as
//! Prometheus scrapes each process (node) on its own.

use std::sync::LazyLock;
use std::time::Duration;

use actix_web::http::Method;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::catalog::cache::CatalogStats;
use crate::db::{DbPool, ReadCounts};
use crate::orders::domain::Source;

static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| Metrics::new().expect("metric names and labels are valid"));

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    checkouts: IntCounterVec,
    orders: IntCounterVec,
    webhooks: IntCounterVec,
    reconciler_runs: IntCounterVec,
    order_issues: IntCounterVec,
    mail: IntCounterVec,
    pool: IntGaugeVec,
    write_batches: HistogramVec,
    event_deliveries: IntCounterVec,
}

impl Metrics {
    fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("storefront".into()), None)?;
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method", "status"],
        )?;
        let checkouts = IntCounterVec::new(
            Opts::new(
                "checkouts_total",
                "Checkout sessions we tried to create, by outcome",
            ),
            &["outcome"],
        )?;
        let orders = IntCounterVec::new(
            Opts::new(
                "order_transitions_total",
                "Orders that became paid, expired, cancelled or failed",
            ),
            &["to", "source"],
        )?;
        let webhooks = IntCounterVec::new(
            Opts::new(
                "webhook_events_total",
                "Stripe webhook deliveries by event type and outcome",
            ),
            &["type", "outcome"],
        )?;
        let reconciler_runs = IntCounterVec::new(
            Opts::new("reconciler_runs_total", "Reconciler passes by outcome"),
            &["outcome"],
        )?;
        let order_issues = IntCounterVec::new(
            Opts::new(
                "order_issues_total",
                "Orders found to need a person (amount_mismatch, totals_mismatch, paid_after_close, refund_failed)",
            ),
            &["kind"],
        )?;
        let mail = IntCounterVec::new(
            Opts::new(
                "mail_messages_total",
                "Email tries by message kind and outcome (sent, retried, failed, skipped)",
            ),
            &["kind", "outcome"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let write_batches = HistogramVec::new(
            HistogramOpts::new(
                "db_write_batch_size",
                "Writes per batched statement (db::batch), by kind",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 100.0]),
            &["kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(checkouts.clone()))?;
        registry.register(Box::new(orders.clone()))?;
        registry.register(Box::new(webhooks.clone()))?;
        registry.register(Box::new(reconciler_runs.clone()))?;
        registry.register(Box::new(order_issues.clone()))?;
        registry.register(Box::new(mail.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        let event_deliveries = IntCounterVec::new(
            Opts::new(
                "event_deliveries_total",
                "Tries of event deliveries to merchants' webhook endpoints, by event type and outcome",
            ),
            &["type", "outcome"],
        )?;
        registry.register(Box::new(write_batches.clone()))?;
        registry.register(Box::new(event_deliveries.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            checkouts,
            orders,
            webhooks,
            reconciler_runs,
            order_issues,
            mail,
            pool,
            write_batches,
            event_deliveries,
        })
    }

    /// `route` is the matched pattern (`/products/{slug}`), never the raw
    /// path, and methods other than the standard ones count as `other`
    /// (clients may send any token): the label set stays small.
    pub fn request(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let method = match *method {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .observe(elapsed.as_secs_f64());
    }

    pub fn checkout(&self, outcome: &str) {
        self.checkouts.with_label_values(&[outcome]).inc();
    }

    /// Counted by the kind of source (every webhook event as `webhook`).
    pub fn order_transition(&self, to: &str, source: Source) {
        self.orders.with_label_values(&[to, source.kind()]).inc();
    }

    pub fn webhook(&self, kind: &str, outcome: &str) {
        self.webhooks.with_label_values(&[kind, outcome]).inc();
    }

    pub fn reconciler_run(&self, outcome: &str) {
        self.reconciler_runs.with_label_values(&[outcome]).inc();
    }

    pub fn order_issue(&self, kind: &str) {
        self.order_issues.with_label_values(&[kind]).inc();
    }

    pub fn mail(&self, kind: &str, outcome: &str) {
        self.mail.with_label_values(&[kind, outcome]).inc();
    }

    /// `outcome`: delivered, retried or failed.
    pub fn event_delivery(&self, kind: &str, outcome: &str) {
        self.event_deliveries
            .with_label_values(&[kind, outcome])
            .inc();
    }

    pub fn write_batch(&self, kind: &str, writes: usize) {
        self.write_batches
            .with_label_values(&[kind])
            .observe(writes as f64);
    }

    /// The pools' connections by state, summed over `pools`.
    pub fn set_pool_connections(&self, pools: &[DbPool]) {
        let statuses: Vec<_> = pools.iter().map(|pool| pool.status()).collect();
        let total = |field: fn(&deadpool::Status) -> usize| {
            i64::try_from(statuses.iter().map(field).sum::<usize>()).unwrap_or(i64::MAX)
        };
        for (label, value) in [
            ("max", total(|s| s.max_size)),
            ("open", total(|s| s.size)),
            ("idle", total(|s| s.available)),
            ("waiting", total(|s| s.waiting)),
        ] {
            self.pool.with_label_values(&[label]).set(value);
        }
    }

    /// Every metric, for the exposition format.
    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }
}

/// The node's catalog cache, as its catalog counts it (not in the process's
/// registry: a test process runs several nodes, each scraped on its own).
pub fn catalog(stats: CatalogStats) -> anyhow::Result<Vec<MetricFamily>> {
    let opts = |name: &str, help: &str| {
        Opts::new(name, help)
            .namespace("storefront")
            .subsystem("catalog")
    };
    let searches = IntCounterVec::new(
        opts(
            "search_cache_total",
            "Searches answered from the node's search cache (hit) or by PostgreSQL (miss)",
        ),
        &["outcome"],
    )?;
    searches
        .with_label_values(&["hit"])
        .inc_by(stats.searches.hits);
    searches
        .with_label_values(&["miss"])
        .inc_by(stats.searches.misses);
    let entries = IntGauge::with_opts(opts("search_cache_entries", "Searches the node keeps"))?;
    entries.set(i64::try_from(stats.searches.entries).unwrap_or(i64::MAX));
    let cards = IntGauge::with_opts(opts(
        "search_cards_bytes",
        "Bytes of rendered result cards the node's kept searches hold",
    ))?;
    cards.set(i64::try_from(stats.searches.cards_bytes).unwrap_or(i64::MAX));
    let listening = IntGauge::with_opts(opts(
        "listening",
        "1 while the node's catalog listener is connected (pages are then served from memory)",
    ))?;
    listening.set(i64::from(stats.listening));
    let changes = IntCounter::with_opts(opts(
        "changes_total",
        "Catalog changes the node was told of (notifications, and each reconnection)",
    ))?;
    changes.inc_by(stats.changes_noted);
    Ok([
        searches.collect(),
        entries.collect(),
        cards.collect(),
        listening.collect(),
        changes.collect(),
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// The node's API key cache.
pub fn api_keys(listening: bool, kept: usize) -> anyhow::Result<Vec<MetricFamily>> {
    let opts = |name: &str, help: &str| {
        Opts::new(name, help)
            .namespace("storefront")
            .subsystem("api_keys")
    };
    let listening_gauge = IntGauge::with_opts(opts(
        "listening",
        "1 while the node's listener for key revocations is connected (keys are then kept in memory)",
    ))?;
    listening_gauge.set(i64::from(listening));
    let kept_gauge = IntGauge::with_opts(opts("kept", "API keys the node keeps verified"))?;
    kept_gauge.set(i64::try_from(kept).unwrap_or(i64::MAX));
    Ok([listening_gauge.collect(), kept_gauge.collect()]
        .into_iter()
        .flatten()
        .collect())
}

/// The node's reads (`db::Reads`) by the server that served them, and those
/// the standby could not take.
pub fn reads(counts: ReadCounts) -> anyhow::Result<Vec<MetricFamily>> {
    let reads = IntCounterVec::new(
        Opts::new(
            "db_reads_total",
            "History reads and catalog loads by the server that served them (standby, primary)",
        )
        .namespace("storefront"),
        &["server"],
    )?;
    reads.with_label_values(&["standby"]).inc_by(counts.standby);
    reads.with_label_values(&["primary"]).inc_by(counts.primary);
    let fallbacks = IntCounterVec::new(
        Opts::new(
            "db_read_fallbacks_total",
            "Reads the primary took from the standby: it had not replayed far enough in time \
             (behind), or failed or was resting after a failure (unavailable)",
        )
        .namespace("storefront"),
        &["reason"],
    )?;
    fallbacks
        .with_label_values(&["behind"])
        .inc_by(counts.behind);
    fallbacks
        .with_label_values(&["unavailable"])
        .inc_by(counts.unavailable);
    Ok([reads.collect(), fallbacks.collect()]
        .into_iter()
        .flatten()
        .collect())
}
