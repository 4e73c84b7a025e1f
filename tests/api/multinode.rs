//! Several app nodes behind nginx (Debian's package) on one PostgreSQL, one
//! simulator and one mail server: nodes are stateless, so any node serves
//! any request, webhook deliveries land on whichever node nginx picks, and
//! every node's sender takes messages from the one outbox; a change of the
//! checkout settings on one node is followed by every node at once; debits
//! sent to every node take their turns at Stripe from one budget.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::json;
use storefront::config::{Secret, Settings};
use storefront::db::schema::{mail_outbox, order_events, orders, products};
use storefront::server::{Application, session_key};

use crate::admin::{PASSWORD, Staff};
use crate::helpers::{
    Browser, CARD_OK, STRIPE_KEY, free_port, pay, register_webhook, stripe_get_at, test_database,
    texts,
};
use crate::payments_api::bursts::{limit_stripe, stripe_rates};
use crate::smtp::SmtpServer;

pub(crate) const NODES: usize = 3;

pub(crate) struct Nodes {
    pub(crate) lb_url: String,
    /// Each node's own address, behind nginx.
    pub(crate) node_urls: Vec<String>,
    /// Each node's metrics listener.
    pub(crate) metrics_urls: Vec<String>,
    pub(crate) sim: stripe_sim::Simulator,
    smtp: SmtpServer,
    /// The primary's database, for the test's own queries.
    db_url: Secret,
    servers: Vec<actix_web::dev::ServerHandle>,
    nginx: tokio::process::Child,
    dir: PathBuf,
}

fn nginx_binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nginx is not installed: apt-get install nginx-light (or nginx)")
}

pub(crate) async fn start_nodes() -> Nodes {
    start_nodes_with(test_database().await, &[]).await
}

/// Nodes on the database `db_url`, with `overrides` of their settings (a
/// DATABASE_URL through a pooler, a DATABASE_READ_URL).
pub(crate) async fn start_nodes_with(db_url: Secret, overrides: &[(&str, String)]) -> Nodes {
    storefront::install_tls_provider();
    let sim = stripe_sim::Simulator::start(stripe_sim::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        webhook_retry_base: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let lb_port = free_port();
    let lb_url = format!("http://127.0.0.1:{lb_port}");
    let secret = register_webhook(&sim.base_url(), STRIPE_KEY, &lb_url).await;
    let smtp = SmtpServer::start(&[]).await;
    // Every node shares the database, the session key, Stripe, the mail
    // server and the public URL.
    let vars = [
        ("BIND", "127.0.0.1:0".to_owned()),
        ("METRICS_BIND", "127.0.0.1:0".to_owned()),
        ("APP_BASE_URL", lb_url.clone()),
        ("DATABASE_URL", db_url.expose().to_owned()),
        ("DATABASE_POOL_SIZE", "8".to_owned()),
        ("SESSION_KEY", "multi-node-shared-session-key-".repeat(3)),
        ("STRIPE_SECRET_KEY", STRIPE_KEY.to_owned()),
        ("STRIPE_API_BASE", sim.base_url()),
        ("STRIPE_WEBHOOK_SECRET", secret),
        ("SMTP_URL", smtp.url()),
        ("MAIL_FROM", "Storefront <orders@shop.example>".to_owned()),
        // nginx connects from one address; the test is not about rate limits.
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
    ];
    let settings = Settings::from_lookup(|name| {
        overrides
            .iter()
            .chain(&vars)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let nodes_db_url = settings.database_url.clone().unwrap();
    let mut servers = Vec::new();
    let mut node_urls = Vec::new();
    let mut metrics_urls = Vec::new();
    let mut upstreams = String::new();
    for _ in 0..NODES {
        let app = Application::build(&settings, &nodes_db_url, session_key(&settings).unwrap())
            .await
            .unwrap();
        upstreams.push_str(&format!("server 127.0.0.1:{};\n", app.port()));
        node_urls.push(format!("http://127.0.0.1:{}", app.port()));
        metrics_urls.push(format!("http://127.0.0.1:{}/metrics", app.metrics_port()));
        servers.push(app.handle());
        tokio::spawn(app.run_until_stopped());
    }
    let dir = std::env::temp_dir().join(format!(
        "storefront-nginx-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  log_format upstream '$request_method $uri $status $upstream_addr';
  access_log {d}/access.log upstream;
  upstream storefront {{ {upstreams} }}
  server {{
    listen 127.0.0.1:{lb_port};
    location / {{
      proxy_pass http://storefront;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let nginx = tokio::process::Command::new(nginx_binary())
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting nginx");
    let probe = reqwest::Client::new();
    for _ in 0..100 {
        if probe
            .get(format!("{lb_url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Nodes {
        lb_url,
        node_urls,
        metrics_urls,
        sim,
        smtp,
        db_url,
        servers,
        nginx,
        dir,
    }
}

impl Nodes {
    pub(crate) async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(self.db_url.expose())
            .await
            .unwrap()
    }

    /// A shopper's account with a card saved at checkout, and an API key
    /// to debit it with.
    pub(crate) async fn saved_card_account(&self) -> (String, String) {
        let shopper = Browser::at(&self.lb_url);
        shopper
            .post_form(
                "/cart/items",
                &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
            )
            .await;
        let checkout = shopper.post_form("/checkout", &[("save_card", "1")]).await;
        let payment_url = checkout.headers()["location"].to_str().unwrap().to_owned();
        let paid = pay(&payment_url, CARD_OK).await;
        let success = paid.headers()["location"].to_str().unwrap().to_owned();
        shopper.client.get(&success).send().await.unwrap();
        let account: String = storefront::db::schema::payments::table
            .select(storefront::db::schema::payments::account_id)
            .first(&mut self.db().await)
            .await
            .unwrap();
        let key = storefront::payments_api::keys::create_key(&mut self.db().await, "multi")
            .await
            .unwrap();
        (account, key)
    }

    /// The upstream nodes that served logged requests for `path_prefix`
    /// (nginx lists every node it tried for a request, comma-separated).
    fn upstreams_for(&self, path_prefix: &str) -> HashSet<String> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(4, ' ');
                let (_, uri, _, upstreams) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                uri.starts_with(path_prefix).then_some(upstreams)
            })
            .flat_map(|upstreams| upstreams.split(", ").map(str::to_owned))
            .filter(|upstream| upstream.starts_with("127.0.0.1:"))
            .collect()
    }

    pub(crate) async fn stop(mut self) {
        for server in &self.servers {
            server.stop(true).await;
        }
        let _ = self.nginx.kill().await;
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn three_nodes_behind_nginx_fulfil_each_order_once_and_never_oversell() {
    let nodes = start_nodes().await;
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", nodes.sim.base_url()))
        .json(&json!({"webhook_duplicate": true}))
        .send()
        .await
        .unwrap();

    // Eight shoppers buy a mug each; every request of theirs may land on any node.
    let shoppers: Vec<_> = (0..8).map(|_| Browser::at(&nodes.lb_url)).collect();
    for shopper in &shoppers {
        let added = shopper
            .post_form(
                "/cart/items",
                &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
            )
            .await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        let checkout = shopper.post_form("/checkout", &[]).await;
        assert_eq!(
            checkout.status(),
            StatusCode::SEE_OTHER,
            "{}",
            checkout.text().await.unwrap()
        );
        let payment_url = checkout.headers()["location"].to_str().unwrap().to_owned();
        let paid = pay(&payment_url, CARD_OK).await;
        let success = paid.headers()["location"].to_str().unwrap().to_owned();
        assert!(success.starts_with(&nodes.lb_url), "{success}");
        let receipt = shopper.client.get(&success).send().await.unwrap();
        assert_eq!(receipt.status(), StatusCode::SEE_OTHER);
    }
    // Thirty more race for the last three water bottles across the nodes.
    let racers: Vec<_> = (0..30).map(|_| Browser::at(&nodes.lb_url)).collect();
    for racer in &racers {
        racer
            .post_form(
                "/cart/items",
                &[("product", "trail-water-bottle"), ("quantity", "1")],
            )
            .await;
    }
    let race =
        futures_util::future::join_all(racers.iter().map(|r| r.post_form("/checkout", &[]))).await;
    let reserved = race
        .iter()
        .filter(|r| r.status() == StatusCode::SEE_OTHER)
        .count();

    // Let duplicated webhook deliveries (spread over the nodes) arrive.
    let mut conn = nodes.db().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let paid: i64 = orders::table
            .filter(orders::status.eq("paid"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        let processed: i64 = storefront::db::schema::stripe_events::table
            .filter(storefront::db::schema::stripe_events::kind.eq("checkout.session.completed"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        if paid == 8 && processed == 8 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "paid {paid}, webhooks processed {processed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let paid_events: i64 = order_events::table
        .filter(order_events::kind.eq("paid"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(paid_events, 8, "no order fulfilled twice");

    // One confirmation per order, whichever node's sender took it.
    let numbers: HashSet<String> = orders::table
        .filter(orders::status.eq("paid"))
        .select(orders::number)
        .load::<String>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|n| format!("{}-{}", &n[..4], &n[4..]))
        .collect();
    let received = nodes.smtp.wait_for(8).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let settled: Vec<String> = mail_outbox::table
            .select(mail_outbox::status)
            .load(&mut conn)
            .await
            .unwrap();
        if settled.len() == 8 && settled.iter().all(|status| status == "sent") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "outbox: {settled:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let confirmed: HashSet<String> = received
        .iter()
        .map(|email| {
            let subject = email.subject();
            subject
                .strip_prefix("[Test] Your Storefront order ")
                .and_then(|rest| rest.strip_suffix(" is confirmed"))
                .unwrap_or(&subject)
                .to_owned()
        })
        .collect();
    assert_eq!(received.len(), 8, "no confirmation sent twice");
    assert_eq!(confirmed, numbers, "every order confirmed");
    assert_eq!(nodes.smtp.tries(), 8);
    assert_eq!(reserved, 3, "exactly the last three units were reserved");
    let stocks: Vec<(String, Option<i32>)> = products::table
        .filter(products::slug.eq_any(["trail-water-bottle", "aurora-ceramic-mug"]))
        .select((products::slug, products::stock))
        .order_by(products::slug)
        .load(&mut conn)
        .await
        .unwrap();
    let (mugs, bottles) = (stocks[0].1, stocks[1].1);
    assert_eq!(bottles, Some(0), "no oversell");
    assert_eq!(mugs, Some(32));

    // Every node's in-memory catalog heard of the sale (NOTIFY from the
    // trigger on products): round robin over all of them shows it sold out.
    let client = Browser::at(&nodes.lb_url);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut sold_out = 0;
        for _ in 0..2 * NODES {
            let page = client.page("/products/trail-water-bottle").await;
            sold_out += usize::from(page.contains("Sold out"));
        }
        if sold_out == 2 * NODES {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sold_out} of {} pages show the bottle sold out",
            2 * NODES
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        nodes.upstreams_for("/").len(),
        NODES,
        "every node served shoppers"
    );
    assert!(
        nodes.upstreams_for("/webhooks/stripe").len() >= 2,
        "webhooks landed on several nodes"
    );
    nodes.stop().await;
}

#[tokio::test]
async fn a_product_change_reaches_every_node_s_cached_pages() {
    let nodes = start_nodes().await;
    let client = reqwest::Client::new();
    let page = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    // Every node listens for catalog changes, then has the mug's page, the
    // front page and the Kitchen page in memory.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    for metrics in &nodes.metrics_urls {
        while !page(metrics.clone())
            .await
            .lines()
            .any(|line| line == "storefront_catalog_listening 1")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{metrics}: not listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut db = nodes.db().await;
    for node in &nodes.node_urls {
        for path in ["/products/aurora-ceramic-mug", "/", "/collections/kitchen"] {
            assert!(
                page(format!("{node}{path}")).await.contains("$24.00"),
                "{node}{path}"
            );
        }
    }

    // A new price, committed elsewhere (another node's checkout, an admin).
    diesel::update(products::table.filter(products::slug.eq("aurora-ceramic-mug")))
        .set(products::price_minor.eq(2650))
        .execute(&mut db)
        .await
        .unwrap();
    let committed = std::time::Instant::now();

    // Every node shows it on its product page and its cached listings
    // (usually within milliseconds; the bound only stops a broken run).
    let mut pending: Vec<String> = nodes
        .node_urls
        .iter()
        .flat_map(|node| {
            ["/products/aurora-ceramic-mug", "/", "/collections/kitchen"]
                .map(|path| format!("{node}{path}"))
        })
        .collect();
    while !pending.is_empty() && committed.elapsed() < Duration::from_secs(10) {
        let mut still = Vec::new();
        for url in pending {
            let shown = page(url.clone()).await;
            let updated = shown.contains("$26.50") && !shown.contains("$24.00");
            if !updated {
                still.push(url);
            }
        }
        pending = still;
    }
    let took = committed.elapsed();
    assert!(
        pending.is_empty(),
        "not updated within 10 s of the commit: {pending:?}"
    );
    eprintln!("the new price reached every node's pages {took:?} after the commit");
    nodes.stop().await;
}

#[tokio::test]
async fn a_settings_change_on_one_node_is_followed_by_every_node_s_next_cart_and_checkout() {
    let nodes = start_nodes().await;
    storefront::admin::auth::accounts::create(
        &mut nodes.db().await,
        "alice@example.com",
        PASSWORD.to_owned(),
    )
    .await
    .unwrap();
    // A shopper on each node, with a mug in the cart.
    let shoppers: Vec<Browser> = nodes.node_urls.iter().map(|url| Browser::at(url)).collect();
    for shopper in &shoppers {
        shopper
            .post_form(
                "/cart/items",
                &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
            )
            .await;
        let cart = shopper.page("/cart").await;
        assert_eq!(texts(&cart, "#tax-note"), ["Prices include tax."]);
    }

    // Changed on the first node's Settings page.
    let staff = Staff::at(&nodes.node_urls[0]);
    let signed_in = staff.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let saved = staff
        .post(
            "/admin/settings",
            &[
                ("shipping_countries", "GB"),
                ("shipping_countries", "IE"),
                ("tax_behavior", "exclusive"),
                ("automatic_tax", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    // Every node's very next cart page and checkout follow: nothing waits.
    for (shopper, node) in shoppers.iter().zip(&nodes.node_urls) {
        let cart = shopper.page("/cart").await;
        assert_eq!(
            texts(&cart, "#tax-note"),
            ["Taxes calculated at checkout."],
            "{node}"
        );
        let checkout = shopper.post_form("/checkout", &[]).await;
        assert_eq!(checkout.status(), StatusCode::SEE_OTHER, "{node}");
        let payment_url = checkout.headers()["location"].to_str().unwrap().to_owned();
        let session = stripe_get_at(
            &nodes.sim.base_url(),
            &format!(
                "/v1/checkout/sessions/{}",
                payment_url.rsplit('/').next().unwrap()
            ),
        )
        .await;
        assert_eq!(
            session["shipping_address_collection"]["allowed_countries"],
            json!(["GB", "IE"]),
            "{node}"
        );
        assert_eq!(session["automatic_tax"]["enabled"], true, "{node}");
        assert_eq!(session["allow_promotion_codes"], serde_json::Value::Null);
    }
    nodes.stop().await;
}

#[tokio::test]
async fn debits_spread_over_the_nodes_share_one_budget_at_stripe() {
    let nodes = start_nodes().await;
    let (account, key) = nodes.saved_card_account().await;

    // Stripe's test-mode limits from here on; each node alone stays under
    // them (20 a second), the three together would not without one budget.
    let sim = nodes.sim.base_url();
    limit_stripe(&sim, 25, 25).await;
    let client = reqwest::Client::new();
    let debits = (0..60).map(|n| {
        client
            .post(format!("{}/api/v1/payments", nodes.node_urls[n % NODES]))
            .bearer_auth(&key)
            .header("Idempotency-Key", format!("spread-{n}"))
            .json(&json!({ "account_id": account, "amount": "5.00", "currency": "usd" }))
            .send()
    });
    for answer in futures_util::future::join_all(debits).await {
        let answer = answer.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::CREATED,
            "{}",
            answer.text().await.unwrap()
        );
    }
    let rates = stripe_rates(&sim).await;
    assert_eq!(rates["refused"], 0, "{rates}");
    assert!(
        rates["max_writes_in_one_second"].as_u64().unwrap() <= 25,
        "{rates}"
    );
    let mut charged: Vec<Option<String>> = storefront::db::schema::payments::table
        .filter(storefront::db::schema::payments::order_id.is_null())
        .filter(storefront::db::schema::payments::status.eq("succeeded"))
        .select(storefront::db::schema::payments::stripe_payment_intent_id)
        .load(&mut nodes.db().await)
        .await
        .unwrap();
    charged.sort();
    charged.dedup();
    assert_eq!(charged.len(), 60, "each debit charged once");
    nodes.stop().await;
}
