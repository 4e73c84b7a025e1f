//! Checkout that ships, in the browser: the cart's wording, the address and
//! promotion code steps on the payment page, the receipt with every line,
//! and a bank debit's receipt while it processes. Screenshots at 1280 and
//! 390 px and axe audits of our pages.

use storefront::shop_settings::domain::TaxBehavior;

use crate::driver::{JavaScript, with_browser};
use crate::helpers::{ACH_SUCCEEDS, CARD_OK, spawn_app};
use crate::pages::{Owner, assert_no_blocking, capture};

#[tokio::test]
async fn a_shopper_ships_express_with_a_promotion_code_and_reads_every_line_on_the_receipt() {
    let app = spawn_app().await;
    app.set_checkout_settings(true, TaxBehavior::Exclusive, true)
        .await;
    let coupon = app
        .stripe_post("/v1/coupons", &[("percent_off", "10")])
        .await;
    app.stripe_post(
        "/v1/promotion_codes",
        &[
            ("coupon", coupon["id"].as_str().unwrap()),
            ("code", "SAVE10"),
        ],
    )
    .await;
    with_browser("checkout-ships", JavaScript::On, async |b| {
        let mut blocking = Vec::new();
        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        b.add_to_cart("Aurora Ceramic Mug", 2).await;
        assert_eq!(
            b.texts(".checkout-notes li").await,
            [
                "Shipping: from $5.00, free over $75.00 — calculated at checkout.",
                "Taxes calculated at checkout.",
                "Have a promotion code? Enter it at checkout.",
            ]
        );
        blocking.extend(capture(b, "cart-shipping", Owner::Us).await);

        b.check_out(&app).await;
        assert_eq!(b.text("h1").await, "Pay $53.00");
        b.fill("#email", "shopper@example.com").await;
        // The address step: a postal code that is not Californian is refused.
        b.fill_address("9410").await;
        b.fill_card(CARD_OK).await;
        b.press_pay().await;
        b.wait_for_text("[role=alert]", "Your postal code is invalid.")
            .await;
        assert_eq!(app.orders().await[0].status, "pending");
        b.fill_address("94105").await;
        b.find("input[name=shipping_rate][id^=rate_]:not(:checked)")
            .await
            .click()
            .await
            .unwrap();

        // The promotion code step: an unknown code, then a good one.
        b.fill("#promotion_code", "NOPE").await;
        b.click_button("Apply").await;
        b.wait_for_text("[role=alert]", "This code is invalid.")
            .await;
        b.fill("#promotion_code", "save10").await;
        b.click_button("Apply").await;
        b.wait_for_text("#applied-discount", "Applied: SAVE10 (10% off)")
            .await;
        // $48.00 − $4.80 + $15.00 Express + 7.25% California tax of both.
        b.wait_for_text("h1", "Pay $62.42").await;
        blocking.extend(capture(b, "payment-shipping", Owner::Simulator).await);
        b.fill_card(CARD_OK).await;
        b.press_pay().await;

        b.receipt().await;
        let lines: Vec<String> = b.texts(".receipt-items tfoot tr").await;
        assert_eq!(
            lines,
            [
                "Subtotal $48.00",
                "Discount SAVE10 −$4.80",
                "Shipping $15.00",
                "Tax $4.22",
                "Amount paid (USD) $62.42",
            ]
        );
        assert_eq!(
            b.text(".ship-to").await,
            "Sam Shopper 1 Market St San Francisco CA 94105 US"
        );
        assert_eq!(
            b.text(".shipping-method").await,
            "Express, 1–2 business days"
        );
        blocking.extend(capture(b, "receipt-shipping", Owner::Us).await);
        assert_eq!(app.orders().await[0].charged, Some(6242));
        assert_no_blocking(&blocking);
    })
    .await;
}

#[tokio::test]
async fn a_bank_debit_s_receipt_says_the_payment_is_processing() {
    let app = spawn_app().await;
    with_browser("bank-debit", JavaScript::On, async |b| {
        let mut blocking = Vec::new();
        b.open_product(&app, "Field Notes Journal", "field-notes-journal")
            .await;
        b.add_to_cart("Field Notes Journal", 1).await;
        b.check_out(&app).await;
        b.fill("#email", "shopper@example.com").await;
        b.fill_address("94105").await;
        b.find("#method_us_bank_account")
            .await
            .click()
            .await
            .unwrap();
        b.fill("#routing_number", "110000000").await;
        b.fill("#account_number", ACH_SUCCEEDS).await;
        b.press_pay().await;

        b.wait_for_path("/orders/").await;
        assert_eq!(b.text("h1").await, "Thank you! Your payment is processing.");
        assert_eq!(b.text(".order-status strong").await, "Payment processing");
        assert_eq!(b.text(".amount-paid").await, "$19.50");
        assert_eq!(b.text(".cart-count").await, "0", "it left the cart");
        blocking.extend(capture(b, "receipt-processing", Owner::Us).await);
        b.goto(&app.url("/orders")).await;
        let row = b.text(".orders-table tbody tr").await;
        assert!(row.contains("Payment processing"), "{row}");
        assert_eq!(
            b.text(".orders-table .total-lines").await,
            "Items $14.50 Shipping $5.00"
        );
        blocking.extend(capture(b, "orders-processing", Owner::Us).await);

        app.sim_settle().await;
        app.eventually("the debit settled", || async {
            app.orders().await[0].status == "paid"
        })
        .await;
        b.goto(&app.url("/orders")).await;
        assert!(b.text(".orders-table tbody tr").await.contains("Paid"));
        assert_no_blocking(&blocking);
    })
    .await;
}
