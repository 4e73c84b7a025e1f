//! Payment methods that settle later (Stripe's test bank debits) end to
//! end: the order holds its stock while the payment processes and the
//! receipt says so, Stripe's async_payment events settle it (paid, or
//! failed with the stock released), and the reconciler settles one whose
//! result event was lost, without ever expiring it meanwhile.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use serde_json::json;
use storefront::db::schema::orders;

use crate::helpers::{
    ACH_FAILS, ACH_SUCCEEDS, Bank, Browser, IBAN_FAILS, PageForm, TestApp, pay_as, spawn_app,
    spawn_app_with, texts,
};

/// Pays the page by bank debit and follows the shopper back: the receipt's path.
async fn pay_by_bank(app: &TestApp, payment_url: &str, bank: Bank<'_>) -> String {
    let form = PageForm {
        bank: Some(bank),
        ..PageForm::default()
    };
    let submitted = pay_as(payment_url, &form).await;
    assert_eq!(
        submitted.status(),
        StatusCode::SEE_OTHER,
        "{}",
        submitted.text().await.unwrap()
    );
    app.follow_success(submitted.headers()["location"].to_str().unwrap())
        .await
}

async fn status_of(app: &TestApp, order_id: i64) -> String {
    app.orders()
        .await
        .into_iter()
        .find(|o| o.id == order_id)
        .unwrap()
        .status
}

/// When Stripe was last asked about the order (the return page, the reconciler).
async fn checked_at(app: &TestApp, order_id: i64) -> Option<DateTime<Utc>> {
    orders::table
        .find(order_id)
        .select(orders::stripe_checked_at)
        .first(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bank_debit_shows_payment_processing_holds_the_stock_and_is_paid_once_it_settles() {
    // One pending checkout per address: a payment in flight does not count.
    let app = spawn_app_with(&[("CHECKOUTS_PER_CLIENT", "1")]).await;
    app.sim_faults(json!({"webhook_duplicate": true})).await;
    app.add_to_cart("walnut-desk-organizer", "1").await;
    let payment_url = app.checkout().await;

    let receipt_path = pay_by_bank(&app, &payment_url, Bank::Ach(ACH_SUCCEEDS)).await;

    let (_, receipt) = app.get_page(&receipt_path).await;
    assert_eq!(
        texts(&receipt, "h1"),
        ["Thank you! Your payment is processing."]
    );
    assert_eq!(
        texts(&receipt, ".order-status strong"),
        ["Payment processing"]
    );
    assert!(texts(&receipt, "#processing-note")[0].contains("takes a few business days"));
    assert!(
        !receipt.contains("Complete payment"),
        "no payment page to go back to"
    );
    // $68.00 and Standard shipping: what the bank is debited.
    assert_eq!(texts(&receipt, ".receipt-total th"), ["Total (USD)"]);
    assert_eq!(texts(&receipt, ".amount-paid"), ["$73.00"]);
    let order = app.orders().await[0].clone();
    assert_eq!(order.status, "pending");
    assert_eq!(
        app.stock("walnut-desk-organizer").await,
        Some(11),
        "still held"
    );
    let (_, list) = app.get_page("/orders").await;
    assert!(texts(&list, "tbody tr")[0].contains("Payment processing"));
    // Back to Stripe's cancel link: a payment on its way is not cancelled.
    let token = receipt_path.trim_start_matches("/orders/");
    let back = app.get(&format!("/checkout/cancel?order={token}")).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()["location"], receipt_path.as_str());
    assert_eq!(status_of(&app, order.id).await, "pending");

    // What was submitted left the cart; the same browser (and address) may
    // buy again meanwhile.
    let (_, cart) = app.get_page("/cart").await;
    assert!(cart.contains("Your cart is empty."), "{cart}");
    app.add_to_cart("brass-bottle-opener", "1").await;
    let second_url = app.checkout().await;
    assert_ne!(second_url, payment_url);
    assert_eq!(status_of(&app, order.id).await, "pending", "not superseded");

    // The bank debit settles; its async_payment_succeeded event pays the order, once.
    app.sim_settle().await;
    app.eventually("the debit's order was paid", || async {
        status_of(&app, order.id).await == "paid"
    })
    .await;
    let history = app.order_history(order.id).await;
    assert_eq!(
        history.last().unwrap(),
        &(
            "paid".to_owned(),
            "webhook:checkout.session.async_payment_succeeded".to_owned()
        )
    );
    assert_eq!(app.paid_events().await, 1);
    assert_eq!(app.stock("walnut-desk-organizer").await, Some(11));
    let (_, receipt) = app.get_page(&receipt_path).await;
    assert_eq!(
        texts(&receipt, "h1"),
        ["Thank you! Your order is confirmed."]
    );
    assert_eq!(texts(&receipt, ".amount-paid"), ["$73.00"]);
}

#[tokio::test]
async fn a_sepa_debit_that_fails_fails_the_order_and_releases_its_stock() {
    let app = spawn_app().await;
    app.db()
        .await
        .batch_execute(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path, stock) \
             VALUES ('linen-napkins', 'Linen Napkins', 'Four napkins.', 2600, 'EUR', \
                     'img/products/linen-throw-blanket.svg', 4)",
        )
        .await
        .unwrap();
    app.add_to_cart("linen-napkins", "2").await;
    let payment_url = app.checkout().await;
    let to_berlin = PageForm {
        bank: Some(Bank::Sepa(IBAN_FAILS)),
        ..PageForm::to("DE", "", "10115")
    };

    let submitted = pay_as(&payment_url, &to_berlin).await;
    assert_eq!(submitted.status(), StatusCode::SEE_OTHER);
    let receipt_path = app
        .follow_success(submitted.headers()["location"].to_str().unwrap())
        .await;
    assert_eq!(app.stock("linen-napkins").await, Some(2));
    let (_, receipt) = app.get_page(&receipt_path).await;
    // €52.00 and €5.00 Standard shipping.
    assert_eq!(texts(&receipt, ".amount-paid"), ["€57.00"]);

    app.sim_settle().await;

    let order = app.orders().await[0].clone();
    app.eventually("the failed debit failed its order", || async {
        status_of(&app, order.id).await == "failed"
    })
    .await;
    assert_eq!(app.stock("linen-napkins").await, Some(4), "stock released");
    assert_eq!(
        app.order_history(order.id).await.last().unwrap().1,
        "webhook:checkout.session.async_payment_failed"
    );
    let (_, receipt) = app.get_page(&receipt_path).await;
    assert_eq!(texts(&receipt, ".order-status strong"), ["Payment failed"]);
    assert_eq!(app.paid_events().await, 0);
}

/// An app whose reconciler runs every 200 ms on every pending order, and
/// whose simulator drops Stripe's events of `lost` type.
async fn app_losing(lost: &str) -> TestApp {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_MS", "200"),
        ("RECONCILE_AFTER_MS", "0"),
    ])
    .await;
    app.sim_faults(json!({"webhook_drop_types": [lost]})).await;
    app
}

/// Waits until the reconciler has asked Stripe about the order after the
/// receipt was read: it saw the payment in flight.
async fn reconciler_looked_at(app: &TestApp, order_id: i64) {
    let before = checked_at(app, order_id).await;
    app.eventually(
        "the reconciler asked about the processing order",
        || async { checked_at(app, order_id).await > before },
    )
    .await;
}

#[tokio::test]
async fn the_reconciler_pays_a_settled_debit_whose_success_event_was_lost_and_never_expires_it_meanwhile()
 {
    let app = app_losing("checkout.session.async_payment_succeeded").await;
    app.add_to_cart("botanical-print-set", "1").await;
    let payment_url = app.checkout().await;
    pay_by_bank(&app, &payment_url, Bank::Ach(ACH_SUCCEEDS)).await;
    let order = app.orders().await[0].clone();

    reconciler_looked_at(&app, order.id).await;
    assert_eq!(
        status_of(&app, order.id).await,
        "pending",
        "in flight: kept"
    );
    assert_eq!(app.stock("botanical-print-set").await, Some(29));

    app.sim_settle().await;

    app.eventually("the reconciler paid the order", || async {
        status_of(&app, order.id).await == "paid"
    })
    .await;
    assert_eq!(
        app.order_history(order.id).await.last().unwrap(),
        &("paid".to_owned(), "reconciler".to_owned())
    );
    assert_eq!(app.paid_events().await, 1);
}

#[tokio::test]
async fn the_reconciler_fails_a_returned_debit_whose_failure_event_was_lost() {
    let app = app_losing("checkout.session.async_payment_failed").await;
    app.add_to_cart("botanical-print-set", "2").await;
    let payment_url = app.checkout().await;
    pay_by_bank(&app, &payment_url, Bank::Ach(ACH_FAILS)).await;
    let order = app.orders().await[0].clone();
    reconciler_looked_at(&app, order.id).await;
    assert_eq!(status_of(&app, order.id).await, "pending");
    assert_eq!(app.stock("botanical-print-set").await, Some(28));

    app.sim_settle().await;

    app.eventually("the reconciler failed the order", || async {
        status_of(&app, order.id).await == "failed"
    })
    .await;
    assert_eq!(
        app.stock("botanical-print-set").await,
        Some(30),
        "released once"
    );
    assert_eq!(
        app.order_history(order.id).await.last().unwrap(),
        &("failed".to_owned(), "reconciler".to_owned())
    );
    // Another shopper can buy what it held.
    let other = Browser::at(&app.address);
    let added = other
        .post_form(
            "/cart/items",
            &[("product", "botanical-print-set"), ("quantity", "30")],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
}
