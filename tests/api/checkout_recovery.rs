//! Checkout when things go wrong or race: lost webhooks healed by the
//! reconciler, concurrent checkouts of the last units, Stripe's errors and
//! outages, refunds arriving before payments, and the minimum charge.

use std::time::{Duration, Instant};

use diesel_async::SimpleAsyncConnection;
use reqwest::StatusCode;
use serde_json::json;
use storefront::orders::domain::{OrderStatus, Source};
use storefront::orders::store as orders;
use storefront::stripe::webhook::sign;

use crate::checkout::{paid, post_webhook, unix_now};
use crate::helpers::{
    Browser, CARD_OK, OrderRow, assert_redirect_to, count, pay, spawn_app, spawn_app_with,
    spawn_with_vars, texts,
};

#[tokio::test]
async fn a_lost_webhook_is_healed_by_the_reconciler() {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    app.sim_faults(json!({"webhook_drop": true})).await;
    app.add_to_cart("botanical-print-set", "1").await;
    let payment_url = app.checkout().await;

    // Paid, but the shopper never comes back and no webhook arrives.
    let response = pay(&payment_url, CARD_OK).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    app.eventually("the reconciler marked the order paid", || paid(&app))
        .await;
    assert_eq!(app.paid_events().await, 1);
    let deliveries = app.sim_deliveries().await;
    let delivered = deliveries
        .iter()
        .filter(|d| d["status"].as_u64() == Some(200))
        .count();
    assert_eq!(delivered, 0, "no webhook reached the app: {deliveries:?}");
}

#[tokio::test]
async fn the_reconciler_expires_sessions_stripe_does_not_know_and_gets_past_ones_it_cannot_settle()
{
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    app.sim_faults(json!({"webhook_drop": true})).await;
    let stock = app.stock("botanical-print-set").await.unwrap();
    app.add_to_cart("botanical-print-set", "1").await;
    app.checkout().await;
    let unknown = app.orders().await[0].id;
    // Its session is unknown to Stripe (made by a simulator since restarted,
    // or with another account's key).
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE orders SET stripe_session_id = 'cs_test_unknown_to_stripe',
                 created_at = now() - interval '2 hours' WHERE id = {unknown}"
        ))
        .await
        .unwrap();
    // A full page of other shoppers' older orders whose sessions are still
    // open: nothing to settle, and they must not hide the paid one after them.
    let start = |shopper: Browser| async move {
        shopper
            .post_form(
                "/cart/items",
                &[("product", "field-notes-journal"), ("quantity", "1")],
            )
            .await;
        let response = shopper.post_form("/checkout", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()["location"].to_str().unwrap().to_owned()
    };
    for _ in 0..100 {
        start(Browser::at(&app.address)).await;
    }
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE orders SET created_at = now() - interval '1 hour' WHERE id <> {unknown}"
        ))
        .await
        .unwrap();
    let payment_url = start(Browser::at(&app.address)).await;
    let paid_order = app.orders().await.last().unwrap().id;

    assert_eq!(
        pay(&payment_url, CARD_OK).await.status(),
        StatusCode::SEE_OTHER
    );

    let status_of = |id: i64| {
        let app = &app;
        async move {
            app.orders()
                .await
                .into_iter()
                .find(|o| o.id == id)
                .unwrap()
                .status
        }
    };
    app.eventually("the paid order behind a full page is settled", || async {
        status_of(paid_order).await == "paid"
    })
    .await;
    assert_eq!(status_of(unknown).await, "expired");
    assert_eq!(
        app.stock("botanical-print-set").await,
        Some(stock),
        "stock released"
    );
    let pending = app
        .orders()
        .await
        .iter()
        .filter(|o| o.status == "pending")
        .count();
    assert_eq!(pending, 100);
}

#[tokio::test]
async fn a_checkout_session_and_a_cancellation_never_cross() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.checkout().await;
    let order = &app.orders().await[0];
    let mut conn = app.db().await;

    // The reconciler listed it before its session was stored: it must not
    // cancel it now that shoppers can pay.
    assert!(
        !orders::cancel_without_session(&mut conn, order.id, Source::Reconciler)
            .await
            .unwrap()
    );
    assert_eq!(app.orders().await[0].status, "pending");
    // Once closed, a session Stripe answers late with is not attached.
    assert!(
        orders::close_unpaid(
            &mut conn,
            order.id,
            OrderStatus::Cancelled,
            Source::CancelPage
        )
        .await
        .unwrap()
    );
    assert!(
        !orders::attach_session(&mut conn, order.id, "cs_test_late", None)
            .await
            .unwrap()
    );
    let session: Option<String> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use storefront::db::schema::orders;
        orders::table
            .find(order.id)
            .select(orders::stripe_session_id)
            .first(&mut conn)
            .await
            .unwrap()
    };
    assert_ne!(session.as_deref(), Some("cs_test_late"));
}

#[tokio::test]
async fn fifty_concurrent_checkouts_for_the_last_three_units_reserve_exactly_three() {
    let app = spawn_app().await;
    let browsers: Vec<_> = (0..50).map(|_| app.new_browser()).collect();
    for browser in &browsers {
        let response = browser
            .post_form(
                "/cart/items",
                &[("product", "trail-water-bottle"), ("quantity", "1")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let mut tokens = Vec::new();
    for browser in &browsers {
        tokens.push(browser.csrf_token().await);
    }

    let checkouts = browsers.iter().zip(&tokens).map(|(browser, token)| {
        browser
            .client
            .post(app.url("/checkout"))
            .form(&[("csrf_token", token.as_str())])
            .send()
    });
    let responses = futures_util::future::join_all(checkouts).await;

    let statuses: Vec<StatusCode> = responses
        .iter()
        .map(|r| r.as_ref().unwrap().status())
        .collect();
    let to_stripe = count(&statuses, StatusCode::SEE_OTHER);
    let sold_out = count(&statuses, StatusCode::CONFLICT);
    assert_eq!((to_stripe, sold_out), (3, 47), "{statuses:?}");
    assert_eq!(app.stock("trail-water-bottle").await, Some(0));
    let orders = app.orders().await;
    assert_eq!(orders.len(), 3, "{orders:?}");
    assert!(orders.iter().all(|o| o.status == "pending"));
}

#[tokio::test]
async fn stripe_errors_and_outages_show_a_friendly_page_and_keep_the_cart() {
    let app = spawn_app_with(&[("STRIPE_TIMEOUT_MS", "700")]).await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let cart_before = app.cart_rows().await;

    // An outage passes (503, try again); a refusal of our request needs us (502).
    for (faults, status, says) in [
        (
            json!({"error_rate": 100, "error_status": 500}),
            StatusCode::SERVICE_UNAVAILABLE,
            "couldn't reach our payment provider",
        ),
        (
            json!({"error_rate": 100, "error_status": 429}),
            StatusCode::SERVICE_UNAVAILABLE,
            "couldn't reach our payment provider",
        ),
        (
            json!({"error_rate": 0, "latency_ms": 3000}),
            StatusCode::SERVICE_UNAVAILABLE,
            "couldn't reach our payment provider",
        ),
        (
            json!({"error_rate": 100, "error_status": 409}),
            StatusCode::SERVICE_UNAVAILABLE,
            "couldn't reach our payment provider",
        ),
        (
            json!({"error_rate": 100, "error_status": 400}),
            StatusCode::BAD_GATEWAY,
            "refused to start this payment",
        ),
    ] {
        app.sim_faults(faults.clone()).await;
        let started = Instant::now();

        let response = app.post_form("/checkout", &[]).await;

        assert_eq!(response.status(), status, "{faults}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{faults}: {:?}",
            started.elapsed()
        );
        let page = response.text().await.unwrap();
        assert!(texts(&page, ".flash-error")[0].contains(says), "{faults}");
        assert_eq!(texts(&page, "h1"), ["Your cart"]);
        assert_eq!(app.cart_rows().await, cart_before);
        assert_eq!(
            app.stock("aurora-ceramic-mug").await,
            Some(40),
            "{faults}: stock released"
        );
        app.sim_faults(json!({"latency_ms": 0, "error_rate": 0}))
            .await;
    }
    assert!(
        app.orders()
            .await
            .iter()
            .all(|o: &OrderRow| o.status == "cancelled")
    );

    // Stripe back: a retry works.
    assert!(app.checkout().await.contains("/c/pay/cs_test_"));
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(39));
}

#[tokio::test]
async fn checkout_while_stripe_is_unreachable_shows_a_friendly_page() {
    let mut app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.sim.take().unwrap().shutdown().await;

    let response = app.post_form("/checkout", &[]).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.cart_rows().await.len(), 1);
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(40));
}

#[tokio::test]
async fn refunds_reach_the_order_through_the_webhook() {
    let app = spawn_app().await;
    app.add_to_cart("brass-bottle-opener", "2").await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    app.eventually("paid", || paid(&app)).await;
    let payment_intent = app.orders().await[0].payment_intent.clone().unwrap();

    let refund = reqwest::Client::new()
        .post(format!("{}/v1/refunds", app.sim_url))
        .bearer_auth(crate::helpers::STRIPE_KEY)
        .form(&[
            ("payment_intent", payment_intent.as_str()),
            ("amount", "1000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);

    app.eventually("partially refunded", || async {
        app.orders().await[0].status == "partially_refunded"
    })
    .await;
}

#[tokio::test]
async fn a_refund_whose_event_comes_before_the_payment_s_still_reaches_the_order() {
    let app = spawn_app().await;
    // Deliveries are lost; the test hands the events over itself, refund first.
    app.sim_faults(json!({"webhook_drop": true})).await;
    app.add_to_cart("brass-bottle-opener", "2").await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    let order = app.orders().await[0].clone();
    let completed = app
        .stripe_get("/v1/events?type=checkout.session.completed")
        .await["data"][0]
        .clone();
    let payment_intent = completed["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let refund = reqwest::Client::new()
        .post(format!("{}/v1/refunds", app.sim_url))
        .bearer_auth(crate::helpers::STRIPE_KEY)
        .form(&[("payment_intent", payment_intent.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    let refunded = app.stripe_get("/v1/events?type=charge.refunded").await["data"][0].clone();
    let deliver = |event: serde_json::Value| {
        let app = &app;
        async move {
            let body = event.to_string();
            let signature = sign(body.as_bytes(), &app.webhook_secret, unix_now());
            post_webhook(app, &body, Some(signature)).await.status()
        }
    };

    assert_eq!(deliver(refunded).await, StatusCode::OK);
    assert_eq!(app.orders().await[0].status, "pending");
    assert_eq!(deliver(completed).await, StatusCode::OK);

    assert_eq!(app.orders().await[0].status, "refunded");
    let refunded_minor: i64 = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use storefront::db::schema::payments;
        payments::table
            .filter(payments::order_id.eq(order.id))
            .select(payments::amount_refunded_minor)
            .first(&mut app.db().await)
            .await
            .unwrap()
    };
    // All of the charge: the items and their shipping.
    assert_eq!(app.orders().await[0].charged, Some(order.total + 500));
    assert_eq!(
        Some(refunded_minor),
        app.orders().await[0].charged,
        "the account's payment shows it too"
    );
}

#[tokio::test]
async fn an_order_below_stripe_s_minimum_charge_is_explained_and_reserves_nothing() {
    let app = spawn_app().await;
    app.db()
        .await
        .batch_execute("UPDATE products SET price_minor = 30 WHERE slug = 'aurora-ceramic-mug'")
        .await
        .unwrap();
    let stock = app.stock("aurora-ceramic-mug").await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;

    let response = app.post_form("/checkout", &[]).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(page.contains("Orders start at $0.50"), "{page}");
    assert!(app.orders().await.is_empty());
    assert_eq!(app.stock("aurora-ceramic-mug").await, stock);
    // Two of them are enough.
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.checkout().await;
    assert_eq!(app.orders().await[0].total, 60);
}

#[tokio::test]
async fn an_order_above_stripe_s_maximum_charge_is_explained_and_reserves_nothing() {
    let app = spawn_app().await;
    // $1,500,000.00: one is more than Stripe takes in one payment.
    app.db()
        .await
        .batch_execute(
            "UPDATE products SET price_minor = 150000000 WHERE slug = 'aurora-ceramic-mug'",
        )
        .await
        .unwrap();
    let stock = app.stock("aurora-ceramic-mug").await;
    let limit = "One payment can be at most $999,999.99";

    let response = app
        .post_form(
            "/checkout/express",
            &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(page.contains(limit), "{page}");

    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let cart = app.get("/cart").await.text().await.unwrap();
    assert!(
        cart.contains(limit),
        "the cart says so before checkout: {cart}"
    );
    let response = app.post_form("/checkout", &[]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(page.contains(limit), "{page}");

    assert!(app.orders().await.is_empty(), "no order was created");
    assert_eq!(
        app.stock("aurora-ceramic-mug").await,
        stock,
        "nothing reserved"
    );
    // Priced within the limit, the same cart checks out.
    app.db()
        .await
        .batch_execute(
            "UPDATE products SET price_minor = 9999999 WHERE slug = 'aurora-ceramic-mug'",
        )
        .await
        .unwrap();
    app.checkout().await;
    assert_eq!(app.orders().await[0].total, 9_999_999);
}

#[tokio::test]
async fn a_browser_whose_stripe_customer_is_gone_still_checks_out() {
    // The app's own simulator forgets everything when the app restarts; the
    // browser still remembers the customer that paid its last order.
    let mut app = spawn_with_vars(Vec::new()).await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let paid = pay(&app.checkout().await, CARD_OK).await;
    app.follow_success(paid.headers()["location"].to_str().unwrap())
        .await;
    app.restart().await;

    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let paid = pay(&app.checkout().await, CARD_OK).await;
    app.follow_success(paid.headers()["location"].to_str().unwrap())
        .await;

    let orders = app.orders().await;
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(|o| o.status == "paid"), "{orders:?}");
}

#[tokio::test]
async fn unknown_sessions_and_order_tokens_are_not_found() {
    let app = spawn_app().await;

    for path in [
        "/checkout/success?session_id=cs_test_unknown",
        "/checkout/success",
        "/orders/not-a-real-token",
        "/orders/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, _) = app.get_page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let response = app.post_form("/checkout", &[]).await;
    assert_redirect_to(&response, "/cart");
    // A malformed query string gets the shop's page, not plain text.
    let response = app
        .get("/checkout/success?session_id=cs_test_a&session_id=cs_test_b")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn without_a_stripe_key_the_app_runs_its_own_simulator_in_test_mode() {
    let app = spawn_with_vars(Vec::new()).await;

    let (_, home) = app.get_page("/").await;
    assert!(texts(&home, ".test-banner")[0].contains("Test mode"));
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let success = pay(&payment_url, CARD_OK).await;
    let order_path = app
        .follow_success(success.headers()["location"].to_str().unwrap())
        .await;

    let (_, page) = app.get_page(&order_path).await;
    // With the sample shop's Standard shipping.
    assert_eq!(texts(&page, ".amount-paid"), ["$29.00"]);
}

#[tokio::test]
async fn reordered_webhook_deliveries_still_fulfil_exactly_once() {
    let app = spawn_app().await;
    app.sim_faults(json!({"webhook_out_of_order": true, "webhook_duplicate": true}))
        .await;
    app.add_to_cart("merino-wool-beanie", "2").await;
    let payment_url = app.checkout().await;

    pay(&payment_url, CARD_OK).await;

    app.eventually("paid by the reordered webhooks", || paid(&app))
        .await;
    let delivered = || async {
        app.sim_deliveries()
            .await
            .iter()
            .filter_map(|d| Some(d["event_type"].as_str()?.to_owned()))
            .collect::<Vec<String>>()
    };
    app.eventually("both events delivered", || async {
        let types = delivered().await;
        ["checkout.session.completed", "payment_intent.created"]
            .iter()
            .all(|t| types.iter().any(|delivered| delivered == t))
    })
    .await;
    let types = delivered().await;
    let completed = types
        .iter()
        .position(|t| *t == "checkout.session.completed")
        .unwrap();
    let created = types
        .iter()
        .position(|t| *t == "payment_intent.created")
        .unwrap();
    assert!(completed < created, "delivered newest first: {types:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.paid_events().await, 1);
    assert_eq!(app.stock("merino-wool-beanie").await, Some(23));
}
