//! The test harness: a private PostgreSQL cluster per test process, a
//! database per test cloned from a migrated template, the app on a free
//! port, the simulator over HTTP, and a shopper's HTTP client.

use std::sync::LazyLock;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use storefront::config::{Secret, Settings};
use storefront::db::cluster::{Durability, LocalCluster};
use storefront::db::schema::{cart_items, order_events, orders, products};
use storefront::server::{Application, session_key};
use storefront::shop_settings::domain::{ShopSettings, TaxBehavior};
use storefront::shop_settings::store as settings_store;
use storefront::{db, seed, telemetry};
use tokio::sync::OnceCell;
use uuid::Uuid;

// A shopper's side: a browser, paying, reading pages.
#[path = "shopper.rs"]
mod shopper;
pub use shopper::*;

const TEMPLATE_DB: &str = "storefront_template";
/// The name of each test app's DATA_DIR, a fresh one under the temp folder.
const DATA_DIR_PREFIX: &str = "storefront-data-";

/// One PostgreSQL cluster per test process, removed when the process exits.
static CLUSTER: OnceCell<LocalCluster> = OnceCell::const_new();

static INIT_LOGS: LazyLock<()> = LazyLock::new(|| {
    // Logs only when asked: `TEST_LOG=1 cargo test`.
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(storefront::config::LogFormat::Pretty, "info");
    }
});

pub async fn cluster() -> &'static LocalCluster {
    CLUSTER
        .get_or_init(|| async {
            let dir =
                std::env::temp_dir().join(format!("storefront-test-{}", Uuid::new_v4().simple()));
            let cluster = LocalCluster::start(&dir, Durability::Ephemeral)
                .await
                .expect("starting the test PostgreSQL cluster");
            db::create_database(&cluster.url("postgres"), TEMPLATE_DB, None)
                .await
                .expect("creating the template database");
            let template = cluster.url(TEMPLATE_DB);
            db::run_migrations(&template)
                .await
                .expect("migrating the template");
            seed::load(&template).await.expect("seeding the template");
            cluster
        })
        .await
}

/// A fresh database for one test, cloned from the template.
pub async fn test_database() -> Secret {
    let cluster = cluster().await;
    let name = format!("t_{}", Uuid::new_v4().simple());
    let admin = cluster.url("postgres");
    // A clone fails while anything is still connected to the template: retry briefly.
    let mut attempt = 0;
    loop {
        match db::create_database(&admin, &name, Some(TEMPLATE_DB)).await {
            Ok(()) => break,
            Err(_) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("creating test database: {e:?}"),
        }
    }
    cluster.url(&name)
}

/// The Stripe key tests use with their simulator.
pub const STRIPE_KEY: &str = "sk_test_storefront_tests";

pub struct TestApp {
    pub address: String,
    /// Where its metrics listener is.
    metrics_address: String,
    pub client: reqwest::Client,
    pub db_url: Secret,
    /// The simulator this app talks to, started by the test like an outside
    /// service, and the webhook secret it signs with.
    pub sim: Option<stripe_sim::Simulator>,
    pub sim_url: String,
    pub webhook_secret: Secret,
    /// This client's session CSRF token, fetched once: fetching a page
    /// consumes pending flash messages, which tests want to see.
    csrf_token: tokio::sync::Mutex<Option<String>>,
    settings: Settings,
    server: actix_web::dev::ServerHandle,
}

/// GET on the Stripe API of the simulator at `sim_url`.
pub async fn stripe_get_at(sim_url: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{sim_url}{path}"))
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app with extra environment settings, talking to its own simulator over
/// HTTP with an explicit key and webhook secret, as it would to Stripe.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    LazyLock::force(&INIT_LOGS);
    storefront::install_tls_provider();
    let sim = stripe_sim::Simulator::start(stripe_sim::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        webhook_retry_base: std::time::Duration::from_millis(200),
        webhook_max_attempts: 6,
        // Bank debits settle when a test says so (`sim_settle`), never
        // behind its back while it looks at them processing.
        settlement_delay: std::time::Duration::from_secs(24 * 60 * 60),
        ..Default::default()
    })
    .await
    .expect("starting the simulator");
    let sim_url = sim.base_url();
    // The webhook endpoint needs the app's address before the app starts.
    let port = free_port();
    let webhook_secret =
        register_webhook(&sim_url, STRIPE_KEY, &format!("http://127.0.0.1:{port}")).await;
    let mut vars: Vec<(String, String)> = vec![
        ("BIND".into(), format!("127.0.0.1:{port}")),
        ("STRIPE_SECRET_KEY".into(), STRIPE_KEY.into()),
        ("STRIPE_API_BASE".into(), sim_url.clone()),
        ("STRIPE_WEBHOOK_SECRET".into(), webhook_secret.clone()),
    ];
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut app = spawn_with_vars(vars).await;
    app.sim = Some(sim);
    app.sim_url = sim_url;
    app.webhook_secret = Secret::new(webhook_secret);
    app
}

pub fn free_port() -> u16 {
    storefront::db::cluster::free_port().unwrap()
}

/// Registers `{app_origin}/webhooks/stripe` with the simulator for every
/// event, as a merchant does in Stripe's dashboard; returns the signing secret.
pub async fn register_webhook(sim_url: &str, key: &str, app_origin: &str) -> String {
    let endpoint: serde_json::Value = reqwest::Client::new()
        .post(format!("{sim_url}/v1/webhook_endpoints"))
        .bearer_auth(key)
        .form(&[
            ("url", format!("{app_origin}/webhooks/stripe")),
            ("enabled_events[]", "*".to_owned()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    endpoint["secret"]
        .as_str()
        .expect("a webhook secret")
        .to_owned()
}

/// An app configured only by `vars` (plus a fresh database and session key).
pub async fn spawn_with_vars(vars: Vec<(String, String)>) -> TestApp {
    LazyLock::force(&INIT_LOGS);
    storefront::install_tls_provider();
    // A test may bring its own database (e.g. on a cluster it restarts).
    let db_url = match vars.iter().find(|(name, _)| name == "DATABASE_URL") {
        Some((_, url)) => Secret::new(url.clone()),
        None => test_database().await,
    };
    let settings = test_settings(&db_url, vars);
    let started = start(&settings, &db_url).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    TestApp {
        address: started.address,
        metrics_address: started.metrics_address,
        client,
        db_url,
        sim: None,
        sim_url: String::new(),
        webhook_secret: Secret::new(""),
        csrf_token: Default::default(),
        settings,
        server: started.server,
    }
}

fn test_settings(db_url: &Secret, vars: Vec<(String, String)>) -> Settings {
    let db_url = db_url.expose().to_owned();
    let data_dir = std::env::temp_dir()
        .join(format!("{DATA_DIR_PREFIX}{}", Uuid::new_v4().simple()))
        .display()
        .to_string();
    Settings::from_lookup(|name| {
        if let Some((_, value)) = vars.iter().rev().find(|(k, _)| k == name) {
            return Some(value.clone());
        }
        match name {
            "BIND" => Some("127.0.0.1:0".into()),
            "DATABASE_URL" => Some(db_url.clone()),
            "DATABASE_POOL_SIZE" => Some("8".into()),
            "SESSION_KEY" => Some("test-session-key-".repeat(5)),
            // Every test client is 127.0.0.1; the rate-limit test turns limits
            // on, and the checkout cap's test its cap.
            "RATE_LIMIT_PER_MINUTE" => Some("0".into()),
            "CHECKOUTS_PER_CLIENT" => Some("0".into()),
            // Every test app gets a free port for its metrics.
            "METRICS_BIND" => Some("127.0.0.1:0".into()),
            // And a folder of its own for what it writes (emails in test
            // mode, uploaded images), removed with it.
            "DATA_DIR" => Some(data_dir.clone()),
            _ => None,
        }
    })
    .expect("test settings")
}

/// A running app: its address, its metrics listener's, and its handle.
struct Started {
    address: String,
    metrics_address: String,
    server: actix_web::dev::ServerHandle,
}

async fn start(settings: &Settings, db_url: &Secret) -> Started {
    let app = Application::build(settings, db_url, session_key(settings).unwrap())
        .await
        .expect("building the app");
    let started = Started {
        address: format!("http://127.0.0.1:{}", app.port()),
        metrics_address: format!("http://127.0.0.1:{}", app.metrics_port()),
        server: app.handle(),
    };
    tokio::spawn(app.run_until_stopped());
    started
}

impl TestApp {
    /// Stops this app instance and starts a new one on the same database and
    /// session key, as a deploy or crash-restart would.
    pub async fn restart(&mut self) {
        self.server.stop(true).await;
        let started = start(&self.settings, &self.db_url).await;
        self.address = started.address;
        self.metrics_address = started.metrics_address;
        self.server = started.server;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Where this app keeps uploaded images.
    pub fn settings_upload_dir(&self) -> std::path::PathBuf {
        self.settings.upload_dir.clone()
    }

    /// Where the app keeps what it writes (DATA_DIR).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.settings.data_dir
    }

    /// `/metrics` on the app's metrics listener (METRICS_BIND).
    pub fn metrics_url(&self) -> String {
        format!("{}/metrics", self.metrics_address)
    }

    /// The value of a metric line, e.g.
    /// `storefront_mail_messages_total{kind="order_confirmation",outcome="sent"}`.
    pub async fn metric(&self, line_start: &str) -> Option<f64> {
        let metrics = reqwest::get(self.metrics_url())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(line_start))
            .and_then(|value| value.trim().parse().ok())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET and return status and body.
    pub async fn get_page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }

    /// A CSRF token for this client's session, read from a page's form.
    pub async fn csrf_token(&self) -> String {
        let mut cached = self.csrf_token.lock().await;
        if cached.is_none() {
            let (_, page) = self.get_page("/products/aurora-ceramic-mug").await;
            *cached = Some(form_value(&page, "csrf_token").expect("a csrf_token field"));
        }
        cached.clone().unwrap_or_default()
    }

    /// POSTs a form with this session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    pub async fn add_to_cart(&self, slug: &str, quantity: &str) -> reqwest::Response {
        self.post_form("/cart/items", &[("product", slug), ("quantity", quantity)])
            .await
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(self.db_url.expose())
            .await
            .unwrap()
    }

    /// Every cart line in the database as (cart id, product id, quantity): a
    /// snapshot to prove that a rejected request changed nothing.
    pub async fn cart_rows(&self) -> Vec<(Uuid, i64, i32)> {
        cart_items::table
            .select((
                cart_items::cart_id,
                cart_items::product_id,
                cart_items::quantity,
            ))
            .order_by(cart_items::id)
            .load(&mut self.db().await)
            .await
            .unwrap()
    }

    /// The ids of the cart lines on the cart page, in order.
    pub async fn cart_item_ids(&self) -> Vec<String> {
        cart_item_ids(&self.get_page("/cart").await.1)
    }
}

impl Drop for TestApp {
    /// The DATA_DIR the harness gave the app goes with it.
    fn drop(&mut self) {
        let harness_made = self
            .settings
            .data_dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(DATA_DIR_PREFIX));
        if harness_made {
            let _ = std::fs::remove_dir_all(&self.settings.data_dir);
        }
    }
}

impl TestApp {
    /// A second shopper: its own cookie jar (session, cart, CSRF token).
    pub fn new_browser(&self) -> Browser {
        Browser::at(&self.address)
    }

    /// The simulator's webhook delivery log, in the order it delivered.
    pub async fn sim_deliveries(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/_sim/deliveries", self.sim_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Changes the simulator's fault knobs.
    pub async fn sim_faults(&self, faults: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/faults", self.sim_url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    pub async fn sim_advance_clock(&self, seconds: i64) {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/advance_clock", self.sim_url))
            .json(&serde_json::json!({ "seconds": seconds }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// POST on the simulator's Stripe API, as the merchant's dashboard would
    /// (creating coupons and promotion codes); answers the object.
    pub async fn stripe_post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(format!("{}{}", self.sim_url, path))
            .bearer_auth(STRIPE_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Settles every bank debit waiting to, now (`POST /_sim/settle`).
    pub async fn sim_settle(&self) -> Vec<String> {
        let settled: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/_sim/settle", self.sim_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        settled["settled"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    /// Changes the merchant's tax and promotion code settings, through the
    /// store a back office uses (the shipping countries stay).
    pub async fn set_checkout_settings(
        &self,
        automatic_tax: bool,
        tax_behavior: TaxBehavior,
        promotion_codes: bool,
    ) {
        let mut conn = self.db().await;
        let current = settings_store::settings(&mut conn).await.unwrap();
        let settings = ShopSettings::new(
            current.shipping_countries().to_vec(),
            automatic_tax,
            tax_behavior,
            promotion_codes,
        )
        .unwrap();
        settings_store::update_settings(&mut conn, &settings)
            .await
            .unwrap();
    }

    /// GET on the simulator's Stripe API, as the merchant's dashboard would.
    pub async fn stripe_get(&self, path: &str) -> serde_json::Value {
        stripe_get_at(&self.sim_url, path).await
    }

    /// POSTs /checkout and returns the Stripe payment page URL it redirects to.
    pub async fn checkout(&self) -> String {
        let response = self.post_form("/checkout", &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap()
        );
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Follows a redirect from the simulator back to us (success page) and
    /// then to the order page; returns the order page's path.
    pub async fn follow_success(&self, success_url: &str) -> String {
        let response = self.client.get(success_url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    pub async fn orders(&self) -> Vec<OrderRow> {
        orders::table
            .select((
                orders::id,
                orders::status,
                orders::amount_total_minor,
                orders::stripe_payment_intent_id,
                orders::amount_charged_minor,
            ))
            .order_by(orders::id)
            .load::<(i64, String, i64, Option<String>, Option<i64>)>(&mut self.db().await)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, status, total, payment_intent, charged)| OrderRow {
                id,
                status,
                total,
                payment_intent,
                charged,
            })
            .collect()
    }

    /// How many times each order was fulfilled (its `paid` events).
    pub async fn paid_events(&self) -> i64 {
        order_events::table
            .filter(order_events::kind.eq("paid"))
            .count()
            .get_result(&mut self.db().await)
            .await
            .unwrap()
    }

    /// An order's events as (kind, source), oldest first.
    pub async fn order_history(&self, order_id: i64) -> Vec<(String, String)> {
        order_events::table
            .filter(order_events::order_id.eq(order_id))
            .order_by(order_events::id)
            .select((order_events::kind, order_events::source))
            .load(&mut self.db().await)
            .await
            .unwrap()
    }

    pub async fn stock(&self, slug: &str) -> Option<i32> {
        products::table
            .filter(products::slug.eq(slug))
            .select(products::stock)
            .first(&mut self.db().await)
            .await
            .unwrap()
    }

    /// Polls until `check` holds (webhooks arrive asynchronously), for at most 15 s.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !check().await {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for: {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub id: i64,
    pub status: String,
    /// The items at our prices (`amount_total_minor`).
    pub total: i64,
    pub payment_intent: Option<String>,
    /// What Stripe charged, shipping and tax included, once completed.
    pub charged: Option<i64>,
}
