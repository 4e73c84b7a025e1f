//! Faults under load: the database restarting while shoppers shop.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use storefront::db::cluster::{Durability, LocalCluster};
use storefront::db::schema::{order_items, orders, products};
use storefront::{db, seed};

use crate::helpers::{free_port, spawn_app_with};

#[tokio::test]
async fn a_postgres_restart_under_load_fails_fast_with_503_recovers_and_leaves_no_half_written_orders()
 {
    // A cluster of its own: restarting the shared one would disturb other tests.
    let dir = std::env::temp_dir().join(format!(
        "storefront-fault-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let cluster = LocalCluster::start(&dir, Durability::Ephemeral)
        .await
        .unwrap();
    db::create_database(&cluster.url("postgres"), "faults", None)
        .await
        .unwrap();
    let url = cluster.url("faults");
    db::run_migrations(&url).await.unwrap();
    seed::load(&url).await.unwrap();
    let app = spawn_app_with(&[("DATABASE_URL", url.expose())]).await;
    let mut conn = AsyncPgConnection::establish(url.expose()).await.unwrap();
    let initial_stock: Vec<(i64, Option<i32>)> = products::table
        .select((products::id, products::stock))
        .order_by(products::id)
        .load(&mut conn)
        .await
        .unwrap();
    drop(conn);

    // Eight shoppers browse, add to cart and check out in a loop for 8 s;
    // PostgreSQL restarts 2 s in.
    // The CSRF token is per session: fetched once, before the load starts.
    let mut browsers = Vec::new();
    for _ in 0..8 {
        let browser = app.new_browser();
        let token = browser.csrf_token().await;
        browsers.push((browser, token));
    }
    let started = Instant::now();
    let shoppers = browsers.into_iter().map(|(browser, token)| {
        let app = &app;
        async move {
            let mut results: Vec<(Duration, StatusCode, Duration)> = Vec::new();
            let mut round = 0u32;
            while started.elapsed() < Duration::from_secs(8) {
                round += 1;
                let at = started.elapsed();
                let begin = Instant::now();
                let (path, fields) = if round.is_multiple_of(3) {
                    ("/checkout", vec![("csrf_token", token.as_str())])
                } else {
                    let line = [("product", "field-notes-journal"), ("quantity", "1")];
                    (
                        "/cart/items",
                        [&line[..], &[("csrf_token", token.as_str())]].concat(),
                    )
                };
                let response = browser
                    .client
                    .post(app.url(path))
                    .form(&fields)
                    .send()
                    .await;
                let status = response.map_or(StatusCode::BAD_GATEWAY, |r| r.status());
                results.push((at, status, begin.elapsed()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            results
        }
    });
    let restart = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let begin = Instant::now();
        cluster.restart().await.unwrap();
        begin.elapsed()
    };
    let (results, restart_took) = tokio::join!(futures_util::future::join_all(shoppers), restart);
    let results: Vec<_> = results.into_iter().flatten().collect();

    let unavailable: Vec<_> = results
        .iter()
        .filter(|r| r.1 == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let unexpected: Vec<_> = results
        .iter()
        .filter(|r| r.1.is_server_error() && r.1 != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let slowest_503 = unavailable.iter().map(|r| r.2).max().unwrap_or_default();
    eprintln!(
        "requests {}, 503s {}, slowest 503 {:?}, PostgreSQL restart took {:?}",
        results.len(),
        unavailable.len(),
        slowest_503,
        restart_took
    );
    assert!(
        unexpected.is_empty(),
        "only 503s while the database is away: {unexpected:?}"
    );
    assert!(
        slowest_503 < Duration::from_secs(6),
        "503s come fast: {slowest_503:?}"
    );
    // Recovered: everything in the last two seconds succeeded.
    let late_failures = results
        .iter()
        .filter(|r| r.0 > Duration::from_secs(6) && r.1.is_server_error())
        .count();
    assert_eq!(late_failures, 0);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);

    // No half-written orders: every order has its items, and reserved plus
    // remaining stock adds up to what there was.
    let mut conn = AsyncPgConnection::establish(url.expose()).await.unwrap();
    let orders_without_items: i64 = orders::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            order_items::table.filter(order_items::order_id.eq(orders::id)),
        )))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(orders_without_items, 0);
    for (product_id, initial) in initial_stock {
        let Some(initial) = initial else { continue };
        let now: Option<i32> = products::table
            .find(product_id)
            .select(products::stock)
            .first(&mut conn)
            .await
            .unwrap();
        let reserved: Option<i64> = order_items::table
            .inner_join(orders::table)
            .filter(order_items::product_id.eq(product_id))
            .filter(orders::status.eq_any(["pending", "paid"]))
            .select(diesel::dsl::sum(order_items::quantity))
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            i64::from(now.unwrap()) + reserved.unwrap_or(0),
            i64::from(initial),
            "product {product_id}"
        );
    }
    drop(conn);
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn a_node_killed_mid_checkout_leaves_a_pending_order_that_another_node_releases() {
    // Node B (in-process) reconciles; node A (the real binary) gets killed.
    let node_b = spawn_app_with(&[
        ("STRIPE_TIMEOUT_MS", "500"),
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    let port = free_port();
    let node_a_url = format!("http://127.0.0.1:{port}");
    let mut node_a = tokio::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("METRICS_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", node_b.db_url.expose())
        .env("SESSION_KEY", "test-session-key-".repeat(5))
        .env("STRIPE_SECRET_KEY", crate::helpers::STRIPE_KEY)
        .env("STRIPE_API_BASE", &node_b.sim_url)
        .env("STRIPE_WEBHOOK_SECRET", node_b.webhook_secret.expose())
        .env("STRIPE_TIMEOUT_MS", "500")
        // Where it writes emails: node B's folder, not the checkout's .data.
        .env("DATA_DIR", node_b.data_dir())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let shopper = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut page = None;
    for _ in 0..200 {
        if let Ok(response) = shopper
            .get(format!("{node_a_url}/products/pour-over-coffee-set"))
            .send()
            .await
        {
            page = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = crate::helpers::form_value(&page.unwrap(), "csrf_token").unwrap();
    let added = shopper
        .post(format!("{node_a_url}/cart/items"))
        .form(&[
            ("product", "pour-over-coffee-set"),
            ("quantity", "2"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let cart_before = node_b.cart_rows().await;

    // Stripe is slow; node A dies while waiting for it.
    node_b
        .sim_faults(serde_json::json!({"latency_ms": 3000}))
        .await;
    let checkout = tokio::spawn({
        let shopper = shopper.clone();
        let url = format!("{node_a_url}/checkout");
        let token = token.clone();
        async move {
            shopper
                .post(url)
                .form(&[("csrf_token", token)])
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    node_a.kill().await.unwrap();
    assert!(
        checkout.await.unwrap().is_err(),
        "the shopper's request died with the node"
    );
    node_b
        .sim_faults(serde_json::json!({"latency_ms": 0}))
        .await;
    let orders = node_b.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, "pending", "reserved, without a session");
    assert_eq!(node_b.stock("pour-over-coffee-set").await, Some(6));

    // Node B's reconciler releases it once no Stripe call can still be running.
    node_b
        .eventually("the abandoned order was cancelled", || async {
            node_b.orders().await[0].status == "cancelled"
        })
        .await;
    assert_eq!(node_b.stock("pour-over-coffee-set").await, Some(8));
    assert_eq!(node_b.cart_rows().await, cart_before, "the cart is intact");
    // The same shopper carries on at node B.
    let retry = shopper
        .post(node_b.url("/checkout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::SEE_OTHER);
}
