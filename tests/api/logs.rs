//! The real binary's logs, captured while a shopper pays: they must show
//! what happened, and never a secret.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Browser, CARD_OK, free_port, pay, register_webhook, test_database};
use crate::smtp::SmtpServer;

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    storefront::install_tls_provider();
    let stripe_key = format!("sk_test_{}", uuid::Uuid::new_v4().simple());
    let session_key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let db_url = test_database().await;
    let db_password = db_url
        .expose()
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let sim = stripe_sim::Simulator::start(stripe_sim::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let webhook_secret = register_webhook(&sim.base_url(), &stripe_key, &base).await;
    let smtp_password = format!("smtp-{}", uuid::Uuid::new_v4().simple());
    let smtp = SmtpServer::with_login("shop", &smtp_password).await;
    let log_path = std::env::temp_dir().join(format!(
        "storefront-log-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut app = tokio::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("METRICS_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", db_url.expose())
        .env("SESSION_KEY", &session_key)
        .env("STRIPE_SECRET_KEY", &stripe_key)
        .env("STRIPE_API_BASE", sim.base_url())
        .env("STRIPE_WEBHOOK_SECRET", &webhook_secret)
        .env("SMTP_URL", smtp.url())
        .env("MAIL_FROM", "Storefront <orders@shop.example>")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let browser = Browser::at(&base);
    let client = &browser.client;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A whole purchase, plus a forged webhook.
    let added = browser
        .post_form(
            "/cart/items",
            &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let checkout = browser.post_form("/checkout", &[]).await;
    let payment_url = checkout.headers()["location"].to_str().unwrap().to_owned();
    let paid = pay(&payment_url, CARD_OK).await;
    let success = paid.headers()["location"].to_str().unwrap().to_owned();
    let to_order = client.get(&success).send().await.unwrap();
    assert_eq!(to_order.status(), StatusCode::SEE_OTHER);
    // The order page's path is its only key.
    let order_path = to_order.headers()["location"].to_str().unwrap().to_owned();
    let order_token = order_path.rsplit('/').next().unwrap().to_owned();
    assert!(
        order_path.starts_with("/orders/") && order_token.len() >= 32,
        "{order_path}"
    );
    assert_eq!(
        client
            .get(format!("{base}{order_path}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let forged = client
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    // The confirmation went out through the mail server, logged in.
    let confirmation = smtp.wait_for(1).await;
    assert_eq!(confirmation[0].to, ["shopper@example.com"]);
    assert_eq!(smtp.failed_logins(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = app.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), app.wait())
        .await
        .unwrap()
        .unwrap();
    sim.shutdown().await;

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        logs.contains("\"request finished\"")
            && logs.contains("order paid")
            && logs.contains("/orders/{token}")
            && logs.contains("email sent"),
        "the logs tell the story:\n{logs}"
    );
    assert!(logs.contains("rejected webhook"));
    for (what, secret) in [
        ("Stripe key", stripe_key.as_str()),
        ("webhook secret", webhook_secret.as_str()),
        ("session key", session_key.as_str()),
        ("database password", db_password.as_str()),
        ("SMTP password", smtp_password.as_str()),
        ("shopper's email address", "shopper@example.com"),
        ("order page token", order_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
}

#[tokio::test]
async fn a_public_shop_without_a_stripe_key_refuses_to_start_in_test_mode() {
    let run = |vars: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // Not the private cluster: the settings are refused before it starts.
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none");
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };

    for vars in [
        &[("APP_BASE_URL", "https://shop.example.com")][..],
        &[("BIND", "0.0.0.0:0")][..],
    ] {
        let output = run(vars);
        assert!(!output.status.success(), "{vars:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("STRIPE_SECRET_KEY") && stderr.contains("ALLOW_TEST_MODE"),
            "{vars:?}: {stderr}"
        );
    }
}
