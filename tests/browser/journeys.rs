//! The shopper's journeys, end to end in the browser.

use crate::driver::{Browser, JavaScript, with_browser};
use crate::helpers::{CARD_DECLINED, CARD_OK, TestApp, spawn_app};
use crate::shop::cart_row;

/// Browse, add two products, change a quantity, check out, pay, read the receipt.
async fn buy_two_products(app: &TestApp, b: &Browser) {
    b.goto(&app.url("/")).await;
    assert_eq!(b.text("h1").await, "Thoughtfully made goods");
    let cards = b.texts(".product-card").await;
    assert_eq!(cards.len(), 12, "every active product: {cards:?}");
    assert!(
        cards.contains(&"Aurora Ceramic Mug $24.00 In stock".to_owned()),
        "{cards:?}"
    );
    assert!(
        cards.contains(&"Scented Soy Candle $22.00 Sold out".to_owned()),
        "{cards:?}"
    );
    assert_eq!(b.text(".cart-count").await, "0");

    b.open_product(app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
        .await;
    assert_eq!(b.text(".price-large").await, "$24.00");
    b.add_to_cart("Aurora Ceramic Mug", 1).await;
    assert_eq!(b.text(".cart-count").await, "1");

    // Back to the shop through the header, then a second product, two of them.
    b.click_link("Shop").await;
    b.wait_for_url("the catalog", |url| url.path() == "/").await;
    b.click_link("Field Notes Journal").await;
    b.wait_for_path("/products/field-notes-journal").await;
    b.add_to_cart("Field Notes Journal", 2).await;
    assert_eq!(b.text(".cart-count").await, "3");
    assert_eq!(b.find_all("tbody tr").await.len(), 2);
    assert_eq!(b.text(".subtotal strong").await, "$53.00");

    b.change_quantity("Aurora Ceramic Mug", "aurora-ceramic-mug", 3)
        .await;
    assert_eq!(
        b.text(&format!("{} td.num", cart_row("aurora-ceramic-mug")))
            .await,
        "$72.00"
    );
    assert_eq!(b.text(".subtotal strong").await, "$101.00");
    assert_eq!(b.text(".cart-count").await, "5");
    let mut quantities: Vec<i32> = app.cart_rows().await.iter().map(|r| r.2).collect();
    quantities.sort_unstable();
    assert_eq!(quantities, [2, 3]);

    b.check_out(app).await;
    assert_eq!(b.text("h1").await, "Pay $101.00");
    let items = b.texts(".items li").await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().any(|i| i.contains("Aurora Ceramic Mug")));
    assert!(items.iter().any(|i| i.contains("Field Notes Journal")));
    b.pay_with(CARD_OK).await;

    let (_, amount, payment) = b.receipt().await;
    assert_eq!(amount, "$101.00");
    let lines = b.texts(".receipt-items tbody tr").await;
    assert!(
        lines.contains(&"Aurora Ceramic Mug 3 $24.00 $72.00".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Field Notes Journal 2 $14.50 $29.00".to_owned()),
        "{lines:?}"
    );
    assert!(b.page_text().await.contains("shopper@example.com"));
    assert_eq!(b.text(".cart-count").await, "0", "the cart is emptied");

    let orders = app.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, "paid");
    assert_eq!(orders[0].total, 10100);
    assert_eq!(orders[0].payment_intent.as_deref(), Some(payment.as_str()));
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(37));

    // The order is in the shopper's order list.
    b.click_link("Your orders").await;
    // Exactly /orders: the receipt's own path (/orders/{token}) also starts with it.
    b.wait_for_url("the orders list", |url| url.path() == "/orders")
        .await;
    let rows = b.texts(".orders-table tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("Paid") && rows[0].contains("$101.00"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_shopper_buys_two_products_and_reads_the_receipt() {
    let app = spawn_app().await;
    with_browser("main-journey", JavaScript::On, async |b| {
        buy_two_products(&app, b).await;
    })
    .await;
}

#[tokio::test]
async fn the_main_journey_works_with_javascript_disabled() {
    let app = spawn_app().await;
    with_browser("no-javascript", JavaScript::Off, async |b| {
        assert!(!b.scripts_run().await, "page JavaScript is off");
        buy_two_products(&app, b).await;
    })
    .await;
}

#[tokio::test]
async fn buy_now_pays_for_one_product_and_leaves_the_cart_alone() {
    let app = spawn_app().await;
    with_browser("express-checkout", JavaScript::On, async |b| {
        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        b.add_to_cart("Aurora Ceramic Mug", 1).await;
        let cart_before = app.cart_rows().await;

        b.open_product(&app, "Walnut Desk Organizer", "walnut-desk-organizer")
            .await;
        b.fill("#quantity", "2").await;
        b.click_button("Buy now").await;
        b.wait_for_payment_page(&app).await;
        assert_eq!(b.text("h1").await, "Pay $136.00");
        assert_eq!(b.texts(".items li").await.len(), 1);
        b.pay_with(CARD_OK).await;

        let (_, amount, _) = b.receipt().await;
        assert_eq!(amount, "$136.00");
        assert_eq!(
            b.texts(".receipt-items tbody tr").await,
            ["Walnut Desk Organizer 2 $68.00 $136.00"]
        );
        assert_eq!(b.text(".cart-count").await, "1", "the cart is untouched");
        assert_eq!(app.cart_rows().await, cart_before);
        assert_eq!(app.stock("walnut-desk-organizer").await, Some(10));
        assert_eq!(app.orders().await[0].status, "paid");
    })
    .await;
}

#[tokio::test]
async fn a_declined_card_is_explained_and_a_good_card_then_pays() {
    let app = spawn_app().await;
    with_browser("declined-card", JavaScript::On, async |b| {
        b.open_product(&app, "Pour-Over Coffee Set", "pour-over-coffee-set")
            .await;
        b.add_to_cart("Pour-Over Coffee Set", 1).await;
        b.check_out(&app).await;
        let payment_page = b.url().await;

        b.pay_with(CARD_DECLINED).await;
        b.wait_for_text("[role=alert]", "Your card was declined.")
            .await;
        assert_eq!(
            b.url().await.path(),
            payment_page.path(),
            "still on the payment page"
        );
        assert_eq!(b.value("#email").await, "shopper@example.com", "kept");
        assert_eq!(app.orders().await[0].status, "pending");
        assert_eq!(app.paid_events().await, 0);

        b.pay_with(CARD_OK).await;
        let (_, amount, payment) = b.receipt().await;
        assert_eq!(amount, "$89.00");
        let orders = app.orders().await;
        assert_eq!(orders.len(), 1, "one order, paid once");
        assert_eq!(orders[0].status, "paid");
        assert_eq!(orders[0].payment_intent.as_deref(), Some(payment.as_str()));
        assert_eq!(app.paid_events().await, 1);
        assert_eq!(app.stock("pour-over-coffee-set").await, Some(7));
    })
    .await;
}

#[tokio::test]
async fn going_back_from_the_payment_page_returns_to_the_intact_cart() {
    let app = spawn_app().await;
    with_browser("cancel-checkout", JavaScript::On, async |b| {
        b.open_product(&app, "Trail Water Bottle", "trail-water-bottle")
            .await;
        assert_eq!(b.text(".badge").await, "Only 3 left");
        b.add_to_cart("Trail Water Bottle", 2).await;
        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        b.add_to_cart("Aurora Ceramic Mug", 1).await;
        let cart_before = app.cart_rows().await;

        b.check_out(&app).await;
        assert_eq!(b.text("h1").await, "Pay $94.00");
        assert_eq!(
            app.stock("trail-water-bottle").await,
            Some(1),
            "reserved while paying"
        );

        b.click_link("← Back").await;
        b.wait_for_path("/cart").await;
        b.wait_for_text(
            ".flash-success",
            "Checkout cancelled: nothing was charged, and your cart is just as you left it.",
        )
        .await;
        assert_eq!(b.find_all("tbody tr").await.len(), 2);
        assert_eq!(
            b.value(&format!(
                "{} input[name=quantity]",
                cart_row("trail-water-bottle")
            ))
            .await,
            "2"
        );
        assert_eq!(b.text(".subtotal strong").await, "$94.00");
        assert_eq!(app.cart_rows().await, cart_before);
        // Closed, whichever of our cancel page and Stripe's
        // `checkout.session.expired` webhook recorded it first.
        let status = app.orders().await[0].status.clone();
        assert!(
            status == "cancelled" || status == "expired",
            "order {status}"
        );
        assert_eq!(app.stock("trail-water-bottle").await, Some(3), "released");

        // The cart can still be checked out.
        b.check_out(&app).await;
        assert_eq!(b.text("h1").await, "Pay $94.00");
    })
    .await;
}
