//! Checkout against the Stripe simulator over HTTP: the hosted page is paid
//! like a shopper would, webhooks arrive signed from the simulator.

use std::time::{Duration, Instant};

use diesel_async::SimpleAsyncConnection;
use reqwest::StatusCode;
use serde_json::json;
use storefront::orders::domain::{OrderStatus, Source};
use storefront::orders::store as orders;
use storefront::stripe::webhook::{DEFAULT_TOLERANCE_SECS, sign};

use crate::helpers::{
    CARD_DECLINED, CARD_OK, OrderRow, TestApp, assert_redirect_to, count, pay, spawn_app,
    spawn_app_with, spawn_with_vars, texts,
};

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sends a webhook delivery as Stripe would, signed with `secret` at `timestamp`.
async fn post_webhook(app: &TestApp, body: &str, signature: Option<String>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    request.body(body.to_owned()).send().await.unwrap()
}

async fn paid(app: &TestApp) -> bool {
    app.orders().await.iter().all(|o| o.status == "paid")
}

#[tokio::test]
async fn cart_checkout_pays_on_the_hosted_page_and_confirms_the_order() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "2").await;
    app.add_to_cart("field-notes-journal", "1").await;

    // Act: check out. A client-sent price must change nothing.
    let response = app
        .post_form("/checkout", &[("price", "1"), ("unit_amount", "1")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let payment_url = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        payment_url.starts_with(&format!("{}/c/pay/cs_test_", app.sim_url)),
        "{payment_url}"
    );

    // The order is pending with its stock reserved, and Stripe has our prices.
    let orders = app.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].status.as_str(), orders[0].total),
        ("pending", 6250)
    );
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(38));
    let session_id = payment_url.rsplit('/').next().unwrap();
    let session = app
        .stripe_get(&format!(
            "/v1/checkout/sessions/{session_id}?expand[]=line_items"
        ))
        .await;
    assert_eq!(session["amount_total"], 6250);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["client_reference_id"], orders[0].id.to_string());
    assert_eq!(session["line_items"]["data"][0]["amount_total"], 4800);
    assert_eq!(
        session["line_items"]["data"][1]["price"]["unit_amount"],
        1450
    );

    // Pay with the good test card; the simulator sends the shopper back to us.
    let paid_response = pay(&payment_url, CARD_OK).await;
    assert_eq!(paid_response.status(), StatusCode::SEE_OTHER);
    let success_url = paid_response.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        success_url,
        format!("{}/checkout/success?session_id={session_id}", app.address)
    );
    let order_path = app.follow_success(&success_url).await;
    assert!(order_path.starts_with("/orders/"));

    // Assert: the receipt, the emptied cart, the order list, one fulfilment.
    let (status, page) = app.get_page(&order_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Thank you! Your order is confirmed."]);
    assert_eq!(texts(&page, ".amount-paid"), ["$62.50"]);
    let payment_id = texts(&page, ".payment-id")[0].clone();
    assert!(payment_id.starts_with("pi_"), "{payment_id}");
    assert!(page.contains("shopper@example.com"));
    assert!(texts(&page, ".receipt-total th")[0].contains("USD"));
    let order = &app.orders().await[0];
    assert_eq!(order.status, "paid");
    assert_eq!(order.payment_intent.as_deref(), Some(payment_id.as_str()));
    let (_, cart) = app.get_page("/cart").await;
    assert!(cart.contains("Your cart is empty."));
    let (_, list) = app.get_page("/orders").await;
    assert!(texts(&list, "tbody tr")[0].contains("Paid"));
    // The webhook arrives too; it must not fulfil a second time.
    app.eventually("the completed webhook was processed", || async {
        app.stripe_get("/v1/events?type=checkout.session.completed")
            .await["data"]
            .as_array()
            .is_some_and(|events| !events.is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.paid_events().await, 1);
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(38));
    let history = app.order_history(order.id).await;
    let kinds: Vec<&str> = history.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["created", "paid"]);
    assert_eq!(history[0].1, "checkout");
}

#[tokio::test]
async fn express_checkout_buys_one_product_without_touching_the_cart() {
    let app = spawn_app().await;
    app.add_to_cart("field-notes-journal", "1").await;
    let cart_before = app.cart_rows().await;

    let response = app
        .post_form(
            "/checkout/express",
            &[("product", "walnut-desk-organizer"), ("quantity", "2")],
        )
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let payment_url = response.headers()["location"].to_str().unwrap().to_owned();
    let session_id = payment_url.rsplit('/').next().unwrap();
    let session = app
        .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
        .await;
    assert_eq!(session["amount_total"], 13600);
    assert_eq!(session["payment_method_types"], json!(["card"]));
    let success = pay(&payment_url, CARD_OK).await;
    let order_path = app
        .follow_success(success.headers()["location"].to_str().unwrap())
        .await;
    let (_, page) = app.get_page(&order_path).await;
    assert_eq!(texts(&page, ".amount-paid"), ["$136.00"]);
    assert_eq!(app.cart_rows().await, cart_before, "the cart is untouched");
    assert_eq!(app.stock("walnut-desk-organizer").await, Some(10));
}

#[tokio::test]
async fn express_checkout_rejects_bad_quantities_and_sold_out_products() {
    let app = spawn_app().await;

    let response = app
        .post_form(
            "/checkout/express",
            &[("product", "aurora-ceramic-mug"), ("quantity", "abc")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .post_form(
            "/checkout/express",
            &[("product", "trail-water-bottle"), ("quantity", "4")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("only 3 of Trail Water Bottle are left")
    );
    let response = app
        .post_form(
            "/checkout/express",
            &[("product", "enamel-camp-pin"), ("quantity", "1")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert!(app.orders().await.is_empty());
    assert_eq!(app.stock("trail-water-bottle").await, Some(3));
}

#[tokio::test]
async fn a_declined_card_keeps_the_order_open_and_a_good_card_then_pays() {
    let app = spawn_app().await;
    app.add_to_cart("merino-wool-beanie", "1").await;
    let payment_url = app.checkout().await;

    let declined = pay(&payment_url, CARD_DECLINED).await;

    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(
        declined
            .text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );
    assert_eq!(app.orders().await[0].status, "pending");
    let success = pay(&payment_url, CARD_OK).await;
    assert_eq!(success.status(), StatusCode::SEE_OTHER);
    app.follow_success(success.headers()["location"].to_str().unwrap())
        .await;
    assert_eq!(app.orders().await[0].status, "paid");
    assert_eq!(app.paid_events().await, 1);
}

#[tokio::test]
async fn cancelling_on_the_payment_page_returns_to_the_intact_cart_and_releases_stock() {
    let app = spawn_app().await;
    app.add_to_cart("trail-water-bottle", "2").await;
    let cart_before = app.cart_rows().await;
    let payment_url = app.checkout().await;
    assert_eq!(app.stock("trail-water-bottle").await, Some(1));
    // The shopper follows the payment page's back link.
    let page = reqwest::get(&payment_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let html = scraper::Html::parse_document(&page);
    let back = html
        .select(&scraper::Selector::parse("a[href*='/checkout/cancel']").unwrap())
        .next()
        .and_then(|a| a.value().attr("href"))
        .expect("a back link to our cancel URL")
        .to_owned();

    let response = app.client.get(&back).send().await.unwrap();

    assert_redirect_to(&response, "/cart");
    let (_, cart) = app.get_page("/cart").await;
    assert!(
        texts(&cart, ".flash-success")
            .iter()
            .any(|f| f.contains("Checkout cancelled"))
    );
    assert_eq!(app.cart_rows().await, cart_before);
    // Cancelled by the page, or expired by the simulator's webhook if that won the race.
    let status = app.orders().await[0].status.clone();
    assert!(status == "cancelled" || status == "expired", "{status}");
    assert_eq!(app.stock("trail-water-bottle").await, Some(3));
    let session_id = payment_url.rsplit('/').next().unwrap();
    let session = app
        .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
        .await;
    assert_eq!(
        session["status"], "expired",
        "the session can no longer be paid"
    );
    // And the shopper can check out again.
    assert!(app.checkout().await.contains("/c/pay/cs_test_"));
}

#[tokio::test]
async fn cancelling_while_stripe_is_unreachable_does_not_claim_nothing_was_charged() {
    let app = spawn_app().await;
    app.add_to_cart("trail-water-bottle", "1").await;
    let payment_url = app.checkout().await;
    let order = app.orders().await[0].clone();
    let token: String = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use storefront::db::schema::orders;
        orders::table
            .find(order.id)
            .select(orders::token)
            .first(&mut app.db().await)
            .await
            .unwrap()
    };
    app.sim_faults(json!({"error_rate": 100, "error_status": 500}))
        .await;

    let response = app.get(&format!("/checkout/cancel?order={token}")).await;

    assert_redirect_to(&response, "/cart");
    let (_, cart) = app.get_page("/cart").await;
    let flashes = texts(&cart, ".flash-error");
    assert!(
        flashes.iter().any(|f| f.contains("if you did pay")),
        "{flashes:?}"
    );
    assert!(!cart.contains("nothing was charged"));
    // The page can still be paid: the order stays pending for Stripe's word.
    assert_eq!(app.orders().await[0].status, "pending");
    app.sim_faults(json!({"error_rate": 0})).await;
    assert_eq!(
        pay(&payment_url, CARD_OK).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_expired_session_expires_the_order_and_releases_its_stock() {
    let app = spawn_app().await;
    app.add_to_cart("pour-over-coffee-set", "3").await;
    app.checkout().await;
    assert_eq!(app.stock("pour-over-coffee-set").await, Some(5));

    // Stripe's clock passes the session's expires_at (30 minutes).
    app.sim_advance_clock(31 * 60).await;

    app.eventually("the order expired", || async {
        app.orders().await[0].status == "expired"
    })
    .await;
    assert_eq!(app.stock("pour-over-coffee-set").await, Some(8));
    assert_eq!(app.cart_rows().await.len(), 1, "the cart is kept");
}

#[tokio::test]
async fn duplicate_and_concurrent_webhook_deliveries_fulfil_exactly_once() {
    let app = spawn_app().await;
    app.sim_faults(json!({"webhook_duplicate": true})).await;
    app.add_to_cart("linen-throw-blanket", "1").await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    app.eventually("paid by webhook", || paid(&app)).await;
    // Replay the real event 20 times at once, freshly signed, as retries would.
    let events = app
        .stripe_get("/v1/events?type=checkout.session.completed")
        .await;
    let event = events["data"][0].to_string();
    let deliveries = (0..20).map(|_| {
        let signature = sign(event.as_bytes(), &app.webhook_secret, unix_now());
        post_webhook(&app, &event, Some(signature))
    });

    let responses = futures_util::future::join_all(deliveries).await;

    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    // Also race the success page against the webhooks.
    let session_id = payment_url.rsplit('/').next().unwrap();
    let success = format!("{}/checkout/success?session_id={session_id}", app.address);
    let pages =
        futures_util::future::join_all((0..5).map(|_| app.client.get(&success).send())).await;
    assert!(
        pages
            .iter()
            .all(|p| p.as_ref().unwrap().status() == StatusCode::SEE_OTHER)
    );
    assert_eq!(app.paid_events().await, 1);
    let order = &app.orders().await[0];
    assert_eq!(order.status, "paid");
    assert_eq!(app.stock("linen-throw-blanket").await, Some(14));
}

#[tokio::test]
async fn forged_tampered_and_stale_webhooks_are_rejected() {
    let app = spawn_app().await;
    app.add_to_cart("canvas-tote-bag", "1").await;
    let payment_url = app.checkout().await;
    let session_id = payment_url.rsplit('/').next().unwrap().to_owned();
    let session = app
        .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
        .await;
    let mut completed = session.clone();
    completed["status"] = json!("complete");
    completed["payment_status"] = json!("paid");
    let event = json!({
        "id": "evt_forged_1", "object": "event", "type": "checkout.session.completed",
        "created": unix_now(), "data": {"object": completed}
    })
    .to_string();
    let secret = app.webhook_secret.clone();
    let other = storefront::config::Secret::new("whsec_not_the_right_one");
    let tampered = event.replace("\"paid\"", "\"paid\" ");
    // Well outside the tolerance: the cases are signed before the earlier ones
    // are sent, and a slow machine must not bring a future timestamp back in.
    let outside = DEFAULT_TOLERANCE_SECS + 120;

    let cases = [
        ("no signature", event.clone(), None),
        (
            "wrong secret",
            event.clone(),
            Some(sign(event.as_bytes(), &other, unix_now())),
        ),
        (
            "tampered body",
            tampered,
            Some(sign(event.as_bytes(), &secret, unix_now())),
        ),
        (
            "stale",
            event.clone(),
            Some(sign(event.as_bytes(), &secret, unix_now() - outside)),
        ),
        (
            "from the future",
            event.clone(),
            Some(sign(event.as_bytes(), &secret, unix_now() + outside)),
        ),
        (
            "garbage header",
            event.clone(),
            Some("t=abc,v1=xyz".to_owned()),
        ),
    ];
    for (case, body, signature) in cases {
        let response = post_webhook(&app, &body, signature).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
    }
    assert_eq!(app.orders().await[0].status, "pending");
    assert_eq!(app.paid_events().await, 0);

    // A correctly signed event of a type we don't handle is acknowledged.
    let unknown = json!({"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {}}}).to_string();
    let response = post_webhook(
        &app,
        &unknown,
        Some(sign(unknown.as_bytes(), &secret, unix_now())),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

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
    let line = app.cart_item_ids().await.remove(0);
    app.post_form(&format!("/cart/items/{line}/delete"), &[])
        .await;
    // A full page of older orders whose sessions are still open: nothing to
    // settle, and they must not hide the paid one after them.
    app.add_to_cart("field-notes-journal", "1").await;
    for _ in 0..100 {
        app.checkout().await;
    }
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE orders SET created_at = now() - interval '1 hour' WHERE id <> {unknown}"
        ))
        .await
        .unwrap();
    let payment_url = app.checkout().await;
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
    assert_eq!(
        refunded_minor, order.total,
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
    assert_eq!(texts(&page, ".amount-paid"), ["$24.00"]);
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
