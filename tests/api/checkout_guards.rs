//! What keeps checkout honest under double clicks, second tabs, the Back
//! button, hoarders and odd payments: one live checkout per browser, a cap
//! per client address, the return page asking Stripe sparingly, and
//! payments that do not match their order set aside for a person.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use serde_json::json;
use storefront::db::schema::order_issues;
use storefront::stripe::webhook::sign;

use crate::checkout::{post_webhook, unix_now};
use crate::helpers::{Browser, CARD_OK, TestApp, pay, spawn_app, spawn_app_with};

/// The simulator's status for a session.
async fn session_status(app: &TestApp, payment_url: &str) -> String {
    let id = payment_url.rsplit('/').next().unwrap();
    let session = app.stripe_get(&format!("/v1/checkout/sessions/{id}")).await;
    session["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn checking_out_one_cart_twice_at_once_makes_one_payment_page() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "2").await;
    let stock = app.stock("aurora-ceramic-mug").await.unwrap();

    // A double click: two checkouts of the same cart at the same moment.
    let (first, second) = tokio::join!(
        app.post_form("/checkout", &[]),
        app.post_form("/checkout", &[])
    );
    let first = first.headers()["location"].to_str().unwrap().to_owned();
    let second = second.headers()["location"].to_str().unwrap().to_owned();

    assert_eq!(first, second, "both get the one payment page");
    let orders = app.orders().await;
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(
        app.stock("aurora-ceramic-mug").await,
        Some(stock - 2),
        "reserved once"
    );
    // The Back button and Check out again, cart unchanged: the same page.
    assert_eq!(app.checkout().await, first);
    assert_eq!(app.orders().await.len(), 1);
}

#[tokio::test]
async fn a_changed_cart_supersedes_its_earlier_checkout() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let stock = app.stock("aurora-ceramic-mug").await.unwrap();
    let first = app.checkout().await;

    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let second = app.checkout().await;

    assert_ne!(first, second);
    assert_eq!(
        session_status(&app, &first).await,
        "expired",
        "cannot be paid"
    );
    let statuses: Vec<String> = app.orders().await.into_iter().map(|o| o.status).collect();
    assert_eq!(statuses, ["cancelled", "pending"]);
    assert_eq!(
        app.stock("aurora-ceramic-mug").await,
        Some(stock - 2),
        "the first reservation was released, the second holds two"
    );
    // The first page is gone; the second takes payment.
    let gone = reqwest::get(&first).await.unwrap();
    assert_eq!(
        gone.status(),
        StatusCode::GONE,
        "the expired page cannot be paid"
    );
    assert_eq!(pay(&second, CARD_OK).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_shopper_back_from_stripe_gets_the_last_unit_their_earlier_checkout_held() {
    let app = spawn_app().await;
    app.db()
        .await
        .batch_execute("UPDATE products SET stock = 1 WHERE slug = 'walnut-desk-organizer'")
        .await
        .unwrap();
    let buy = [("product", "walnut-desk-organizer"), ("quantity", "1")];
    let first = app.post_form("/checkout/express", &buy).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    // Back from Stripe's page with the Back button, then Buy now again:
    // their own pending order must not have sold them out.
    let again = app.post_form("/checkout/express", &buy).await;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        again.text().await
    );
    // With another quantity it is a new checkout: the old one goes first.
    app.db()
        .await
        .batch_execute("UPDATE products SET stock = stock + 1 WHERE slug = 'walnut-desk-organizer'")
        .await
        .unwrap();
    let two = [("product", "walnut-desk-organizer"), ("quantity", "2")];
    let response = app.post_form("/checkout/express", &two).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.stock("walnut-desk-organizer").await, Some(0));
    let statuses: Vec<String> = app.orders().await.into_iter().map(|o| o.status).collect();
    assert_eq!(statuses, ["cancelled", "pending"]);
}

#[tokio::test]
async fn one_client_address_holds_a_bounded_number_of_pending_checkouts() {
    let app = spawn_app_with(&[("CHECKOUTS_PER_CLIENT", "2")]).await;
    let stock = app.stock("aurora-ceramic-mug").await.unwrap();
    let checkout = async || {
        let shopper = Browser::at(&app.address);
        let add = [("product", "aurora-ceramic-mug"), ("quantity", "5")];
        shopper.post_form("/cart/items", &add).await;
        shopper.post_form("/checkout", &[]).await
    };
    assert_eq!(checkout().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(checkout().await.status(), StatusCode::SEE_OTHER);

    let refused = checkout().await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("already 2 checkouts waiting for payment"),
        "{page}"
    );
    assert_eq!(app.orders().await.len(), 2);
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(stock - 10));
}

/// The simulator's count of API reads in its busiest second since `reset`.
async fn stripe_reads(app: &TestApp, reset: bool) -> u64 {
    let client = reqwest::Client::new();
    let url = format!("{}/_sim/rate_limit", app.sim_url);
    if reset {
        client.post(&url).json(&json!({})).send().await.unwrap();
        return 0;
    }
    let stats: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    stats["max_reads_in_one_second"].as_u64().unwrap()
}

#[tokio::test]
async fn the_return_page_asks_stripe_sparingly() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let session_id = payment_url.rsplit('/').next().unwrap().to_owned();
    let success = format!("/checkout/success?session_id={session_id}");
    let receipt = |response: reqwest::Response| {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()["location"].to_str().unwrap().to_owned()
    };

    // Pending: however often it is loaded, Stripe is asked once.
    stripe_reads(&app, true).await;
    for _ in 0..20 {
        receipt(app.get(&success).await);
    }
    assert_eq!(stripe_reads(&app, false).await, 1);

    // Settled: answered from the database.
    pay(&payment_url, CARD_OK).await;
    app.eventually("paid", || async { app.orders().await[0].status == "paid" })
        .await;
    stripe_reads(&app, true).await;
    for _ in 0..20 {
        assert!(receipt(app.get(&success).await).starts_with("/orders/"));
    }
    assert_eq!(stripe_reads(&app, false).await, 0);
}

#[tokio::test]
async fn a_paid_event_for_another_amount_is_set_aside_for_a_person() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let session_id = payment_url.rsplit('/').next().unwrap().to_owned();
    let order = app.orders().await[0].clone();
    let event = |id: &str| {
        json!({
            "id": id,
            "type": "checkout.session.completed",
            "data": {"object": {
                "id": session_id, "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "amount_total": order.total - 1, "currency": "usd",
                "payment_intent": "pi_mismatched", "metadata": {}
            }}
        })
        .to_string()
    };

    // Delivered twice, as Stripe may.
    for id in ["evt_mismatch_1", "evt_mismatch_2"] {
        let body = event(id);
        let signature = sign(body.as_bytes(), &app.webhook_secret, unix_now());
        let response = post_webhook(&app, &body, Some(signature)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    assert_eq!(app.orders().await[0].status, "pending", "not fulfilled");
    let issues: Vec<(String, serde_json::Value)> = order_issues::table
        .filter(order_issues::order_id.eq(order.id))
        .select((order_issues::kind, order_issues::details))
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(issues.len(), 1, "one issue however often it is delivered");
    assert_eq!(issues[0].0, "amount_mismatch");
    assert_eq!(issues[0].1["stripe_amount_total"], order.total - 1);
    assert_eq!(issues[0].1["order_total_minor"], order.total);
    // Counted (the registry is the test process's: other tests count too).
    let counted = r#"storefront_order_issues_total{kind="amount_mismatch"}"#;
    assert!(app.metric(counted).await >= Some(1.0));
    // The shopper is told a person is looking at it.
    let token: String = {
        use storefront::db::schema::orders;
        orders::table
            .find(order.id)
            .select(orders::token)
            .first(&mut app.db().await)
            .await
            .unwrap()
    };
    let page = app
        .get(&format!("/orders/{token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("check by hand"), "{page}");
}

#[tokio::test]
async fn a_shopper_who_lost_the_last_unit_is_told_it_sold_out() {
    let app = spawn_app().await;
    app.db()
        .await
        .batch_execute("UPDATE products SET stock = 1 WHERE slug = 'walnut-desk-organizer'")
        .await
        .unwrap();
    app.add_to_cart("walnut-desk-organizer", "1").await;
    let rival = Browser::at(&app.address);
    let buy = [("product", "walnut-desk-organizer"), ("quantity", "1")];
    assert_eq!(
        rival.post_form("/checkout/express", &buy).await.status(),
        StatusCode::SEE_OTHER
    );

    let response = app.post_form("/checkout", &[]).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Walnut Desk Organizer has just sold out"),
        "{page}"
    );
    assert!(!page.contains("no longer available"), "{page}");
    let cart = app.get("/cart").await.text().await.unwrap();
    assert!(cart.contains(">Sold out<"), "{cart}");
}

#[tokio::test]
async fn receipts_show_a_random_public_number_not_the_sequential_id() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let success = pay(&payment_url, CARD_OK).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let receipt = app.follow_success(&success).await;
    let (id, number): (i64, String) = {
        use storefront::db::schema::orders;
        orders::table
            .select((orders::id, orders::number))
            .first(&mut app.db().await)
            .await
            .unwrap()
    };

    let page = app.get(&receipt).await.text().await.unwrap();

    let shown = crate::helpers::texts(&page, ".receipt-meta dd")[0].clone();
    assert_eq!(shown, format!("{}-{}", &number[..4], &number[4..]));
    assert!(
        shown
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase()),
        "{shown}"
    );
    assert!(
        !page.contains(&format!("Order {id}")),
        "the id is not shown"
    );
    let list = app.get("/orders").await.text().await.unwrap();
    assert!(list.contains(&shown), "{list}");
}
