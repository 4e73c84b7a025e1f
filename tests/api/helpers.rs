use std::sync::LazyLock;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use scraper::{Html, Selector};
use storefront::config::{Secret, Settings};
use storefront::db::cluster::{Durability, LocalCluster};
use storefront::db::schema::cart_items;
use storefront::startup::{Application, session_key};
use storefront::{db, seed, telemetry};
use tokio::sync::OnceCell;
use uuid::Uuid;

const TEMPLATE_DB: &str = "storefront_template";

/// One PostgreSQL cluster per test process, removed when the process exits.
static CLUSTER: OnceCell<LocalCluster> = OnceCell::const_new();

static INIT_LOGS: LazyLock<()> = LazyLock::new(|| {
    // Logs only when asked: `TEST_LOG=1 cargo test`.
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(storefront::config::LogFormat::Pretty, "info");
    }
});

async fn cluster() -> &'static LocalCluster {
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

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db_url: Secret,
    /// This client's session CSRF token, fetched once: fetching a page
    /// consumes pending flash messages, which tests want to see.
    csrf_token: tokio::sync::Mutex<Option<String>>,
    settings: Settings,
    server: actix_web::dev::ServerHandle,
}

pub async fn spawn_app() -> TestApp {
    LazyLock::force(&INIT_LOGS);
    storefront::install_tls_provider();
    let db_url = test_database().await;
    let settings = test_settings(&db_url);
    let (address, server) = start(&settings, &db_url).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        db_url,
        csrf_token: Default::default(),
        settings,
        server,
    }
}

fn test_settings(db_url: &Secret) -> Settings {
    let db_url = db_url.expose().to_owned();
    Settings::from_lookup(|name| match name {
        "BIND" => Some("127.0.0.1:0".into()),
        "DATABASE_URL" => Some(db_url.clone()),
        "DATABASE_POOL_SIZE" => Some("8".into()),
        "SESSION_KEY" => Some("test-session-key-".repeat(5)),
        _ => None,
    })
    .expect("test settings")
}

async fn start(settings: &Settings, db_url: &Secret) -> (String, actix_web::dev::ServerHandle) {
    let app = Application::build(settings, db_url, session_key(settings).unwrap())
        .await
        .expect("building the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (address, handle)
}

impl TestApp {
    /// Stops this app instance and starts a new one on the same database and
    /// session key, as a deploy or crash-restart would.
    pub async fn restart(&mut self) {
        self.server.stop(true).await;
        let (address, server) = start(&self.settings, &self.db_url).await;
        self.address = address;
        self.server = server;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
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
        let (_, page) = self.get_page("/cart").await;
        let html = Html::parse_document(&page);
        let rows = Selector::parse("tbody tr").unwrap();
        html.select(&rows)
            .filter_map(|row| row.value().id()?.strip_prefix("item-").map(str::to_owned))
            .collect()
    }
}

pub fn form_value(page: &str, name: &str) -> Option<String> {
    let html = Html::parse_document(page);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    html.select(&selector)
        .next()
        .and_then(|input| input.value().attr("value").map(str::to_owned))
}

/// Text of every element matching `selector`, whitespace-collapsed.
pub fn texts(page: &str, selector: &str) -> Vec<String> {
    let html = Html::parse_document(page);
    let selector = Selector::parse(selector).unwrap();
    html.select(&selector)
        .map(|e| {
            e.text()
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

pub fn assert_redirect_to(response: &reqwest::Response, location: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], location);
}
