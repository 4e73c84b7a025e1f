//! Checkout against the Stripe simulator over HTTP: the hosted page is paid
//! like a shopper would, webhooks arrive signed from the simulator.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use storefront::stripe::webhook::{DEFAULT_TOLERANCE_SECS, sign};

use crate::helpers::{CARD_DECLINED, CARD_OK, TestApp, assert_redirect_to, pay, spawn_app, texts};

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sends a webhook delivery as Stripe would, signed with `secret` at `timestamp`.
pub async fn post_webhook(
    app: &TestApp,
    body: &str,
    signature: Option<String>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    request.body(body.to_owned()).send().await.unwrap()
}

pub async fn paid(app: &TestApp) -> bool {
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
    // Our items, and the sample shop's Standard shipping ($5.00 under $75.00).
    assert_eq!(session["amount_subtotal"], 6250);
    assert_eq!(session["amount_total"], 6750);
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
    assert_eq!(texts(&page, ".amount-paid"), ["$67.50"]);
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
async fn paying_an_older_checkout_keeps_what_was_added_to_the_cart_since() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    // Meanwhile, in a second tab: another mug and two journals.
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.add_to_cart("field-notes-journal", "2").await;

    pay(&payment_url, CARD_OK).await;
    app.eventually("paid", || paid(&app)).await;

    // The paid mug leaves the cart; what was added since stays.
    let cart = app.get("/cart").await.text().await.unwrap();
    let lines: Vec<(String, String)> = cart_lines(&cart);
    assert_eq!(
        lines,
        [
            ("Aurora Ceramic Mug".to_owned(), "1".to_owned()),
            ("Field Notes Journal".to_owned(), "2".to_owned()),
        ]
    );
}

/// The cart page's lines: (product name, quantity in its form).
fn cart_lines(page: &str) -> Vec<(String, String)> {
    let html = scraper::Html::parse_document(page);
    let row = scraper::Selector::parse(".cart-table tbody tr").unwrap();
    let name = scraper::Selector::parse(".cart-product a").unwrap();
    let quantity = scraper::Selector::parse("input[name=quantity]").unwrap();
    html.select(&row)
        .map(|row| {
            let name = row.select(&name).next().unwrap().text().collect::<String>();
            let quantity = row.select(&quantity).next().unwrap().attr("value").unwrap();
            (name.trim().to_owned(), quantity.to_owned())
        })
        .collect()
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
    // Not forced to cards: what the account enables (a bank debit for usd).
    assert_eq!(
        session["payment_method_types"],
        json!(["card", "us_bank_account"])
    );
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
