//! Checkout that ships, through the hosted page: the merchant's countries
//! and rates (from the database), free shipping over a threshold, carts
//! that need no shipping, exact totals in a zero-decimal currency, and what
//! the order, its receipt and the payments API record.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storefront::db::schema::{order_checkouts, order_shipping_options, orders, payments};
use storefront::shop_settings::domain::{
    ShippingRateDraft, ShippingRateForm, ShopSettings, TaxBehavior,
};
use storefront::shop_settings::store as settings_store;

use crate::helpers::{PageForm, TestApp, hosted_page, pay_as, spawn_app, texts};

/// The session behind a payment page, as Stripe has it.
pub async fn session_of(app: &TestApp, payment_url: &str) -> Value {
    let id = payment_url.rsplit('/').next().unwrap();
    app.stripe_get(&format!("/v1/checkout/sessions/{id}")).await
}

/// Pays on the hosted page with `form` and follows the shopper back to the
/// receipt; returns the receipt page.
pub async fn pay_and_read_receipt(app: &TestApp, payment_url: &str, form: &PageForm<'_>) -> String {
    let paid = pay_as(payment_url, form).await;
    assert_eq!(
        paid.status(),
        StatusCode::SEE_OTHER,
        "{}",
        paid.text().await.unwrap()
    );
    let order_path = app
        .follow_success(paid.headers()["location"].to_str().unwrap())
        .await;
    app.get_page(&order_path).await.1
}

/// The receipt's lines below the items: (label, amount), in order.
pub fn receipt_lines(page: &str) -> Vec<(String, String)> {
    let labels = texts(page, ".receipt-items tfoot th");
    let amounts = texts(page, ".receipt-items tfoot td");
    labels.into_iter().zip(amounts).collect()
}

/// (label, amount) pairs from string literals.
pub fn lines(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(label, amount)| (label.to_string(), amount.to_string()))
        .collect()
}

/// What the order's checkout row holds: subtotal, discount, shipping, tax,
/// the promotion code and the shipping country.
async fn checkout_row(
    app: &TestApp,
    order_id: i64,
) -> (i64, i64, i64, i64, Option<String>, Option<String>) {
    order_checkouts::table
        .find(order_id)
        .select((
            order_checkouts::amount_subtotal_minor,
            order_checkouts::amount_discount_minor,
            order_checkouts::amount_shipping_minor,
            order_checkouts::amount_tax_minor,
            order_checkouts::promotion_code,
            order_checkouts::shipping_country,
        ))
        .first(&mut app.db().await)
        .await
        .unwrap()
}

/// The options an order offered, as (name, amount, chosen).
async fn offered(app: &TestApp, order_id: i64) -> Vec<(String, i64, bool)> {
    order_shipping_options::table
        .filter(order_shipping_options::order_id.eq(order_id))
        .order_by(order_shipping_options::position)
        .select((
            order_shipping_options::display_name,
            order_shipping_options::amount_minor,
            order_shipping_options::chosen,
        ))
        .load(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn standard_shipping_is_offered_charged_and_recorded_with_the_address() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;

    // The cart says what checkout will do, and no more.
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(
        texts(&cart, ".checkout-notes li"),
        [
            "Shipping: from $5.00, free over $75.00 — calculated at checkout.",
            "Prices include tax.",
            "Have a promotion code? Enter it at checkout.",
        ]
    );
    let payment_url = app.checkout().await;

    // Stripe is asked for an address in the merchant's countries and
    // offered the merchant's rates, with their delivery estimates.
    let session = session_of(&app, &payment_url).await;
    assert_eq!(
        session["shipping_address_collection"]["allowed_countries"],
        json!(["US", "CA", "GB", "DE", "FR", "JP"])
    );
    let amounts: Vec<&Value> = session["shipping_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["shipping_amount"])
        .collect();
    assert_eq!(amounts, [&json!(500), &json!(1500)]);
    assert_eq!(session["allow_promotion_codes"], true);
    assert_eq!(session["automatic_tax"]["enabled"], false);
    // Before the page is completed, the order's own page knows only the items.
    let token: String = orders::table
        .select(orders::token)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let (_, pending) = app.get_page(&format!("/orders/{token}")).await;
    assert_eq!(
        receipt_lines(&pending),
        lines(&[("Subtotal (USD)", "$24.00")])
    );
    let page = hosted_page(&payment_url).await;
    assert!(page.asks_address);
    let labels: Vec<&str> = page.shipping_options.iter().map(|o| o.1.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Standard: $5.00 (3–5 business days)",
            "Express: $15.00 (1–2 business days)"
        ]
    );

    let receipt = pay_and_read_receipt(&app, &payment_url, &PageForm::default()).await;

    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$24.00"),
            ("Shipping", "$5.00"),
            ("Amount paid (USD)", "$29.00"),
        ])
    );
    assert_eq!(
        texts(&receipt, ".ship-to"),
        ["Sam Shopper 1 Market St San Francisco CA 94105 US"]
    );
    assert_eq!(
        texts(&receipt, ".shipping-method"),
        ["Standard, 3–5 business days"]
    );
    let order = app.orders().await[0].clone();
    assert_eq!(
        (order.status.as_str(), order.total, order.charged),
        ("paid", 2400, Some(2900))
    );
    assert_eq!(
        checkout_row(&app, order.id).await,
        (2400, 0, 500, 0, None, Some("US".into()))
    );
    assert_eq!(
        offered(&app, order.id).await,
        [
            ("Standard".into(), 500, true),
            ("Express".into(), 1500, false)
        ]
    );
    // The ledger records what was charged.
    let charged: i64 = payments::table
        .filter(payments::order_id.eq(order.id))
        .select(payments::amount_minor)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(charged, 2900);
    let (_, list) = app.get_page("/orders").await;
    assert_eq!(
        texts(&list, "tbody td.num"),
        ["$29.00 Items $24.00 Shipping $5.00"]
    );
}

#[tokio::test]
async fn express_shipping_is_charged_when_chosen_and_standard_is_free_over_the_threshold() {
    let app = spawn_app().await;
    // Two beanies: $64.00, under the $75.00 threshold.
    app.add_to_cart("merino-wool-beanie", "2").await;
    let payment_url = app.checkout().await;
    let express = PageForm {
        shipping: Some("Express"),
        ..PageForm::default()
    };
    let receipt = pay_and_read_receipt(&app, &payment_url, &express).await;
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$64.00"),
            ("Shipping", "$15.00"),
            ("Amount paid (USD)", "$79.00"),
        ])
    );
    assert_eq!(
        texts(&receipt, ".shipping-method"),
        ["Express, 1–2 business days"]
    );
    let first = app.orders().await[0].clone();
    assert_eq!(first.charged, Some(7900));

    // Four mugs: $96.00, so Standard is free (Express is not).
    app.add_to_cart("aurora-ceramic-mug", "4").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(texts(&cart, "#shipping-note"), ["Shipping: free."]);
    let payment_url = app.checkout().await;
    let labels: Vec<String> = hosted_page(&payment_url)
        .await
        .shipping_options
        .into_iter()
        .map(|o| o.1)
        .collect();
    assert_eq!(
        labels,
        [
            "Standard: $0.00 (3–5 business days)",
            "Express: $15.00 (1–2 business days)"
        ]
    );
    let receipt = pay_and_read_receipt(&app, &payment_url, &PageForm::default()).await;
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$96.00"),
            ("Shipping", "Free"),
            ("Amount paid (USD)", "$96.00"),
        ])
    );
}

#[tokio::test]
async fn a_cart_of_things_that_do_not_ship_asks_for_no_address() {
    let app = spawn_app().await;
    app.add_to_cart("digital-gift-card", "2").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(
        texts(&cart, "#shipping-note"),
        ["Nothing in your cart needs shipping."]
    );
    let (_, product) = app.get_page("/products/digital-gift-card").await;
    assert_eq!(
        texts(&product, ".no-shipping"),
        ["Nothing to ship: no delivery address is asked for."]
    );

    let payment_url = app.checkout().await;
    let session = session_of(&app, &payment_url).await;
    assert_eq!(session["shipping_address_collection"], Value::Null);
    assert_eq!(session["shipping_options"], json!([]));
    let page = hosted_page(&payment_url).await;
    assert!(!page.asks_address, "no address fields");
    assert!(page.shipping_options.is_empty());
    let receipt = pay_and_read_receipt(&app, &payment_url, &PageForm::default()).await;

    assert_eq!(
        receipt_lines(&receipt),
        lines(&[("Subtotal", "$50.00"), ("Amount paid (USD)", "$50.00")])
    );
    assert!(texts(&receipt, ".ship-to").is_empty());
    let order = app.orders().await[0].clone();
    assert_eq!(checkout_row(&app, order.id).await.5, None, "no address");
    assert!(offered(&app, order.id).await.is_empty());

    // With one thing that ships, the address is asked for again.
    app.add_to_cart("digital-gift-card", "1").await;
    app.add_to_cart("brass-bottle-opener", "1").await;
    let payment_url = app.checkout().await;
    assert!(hosted_page(&payment_url).await.asks_address);
    let session = session_of(&app, &payment_url).await;
    assert_eq!(session["shipping_options"].as_array().unwrap().len(), 2);
}

/// A product priced in yen, with stock.
async fn add_yen_product(app: &TestApp) {
    app.db()
        .await
        .batch_execute(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path, stock) \
             VALUES ('matcha-bowl', 'Matcha Bowl', 'A hand-thrown bowl.', 3000, 'JPY', \
                     'img/products/aurora-ceramic-mug.svg', 10)",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn yen_totals_are_exact_with_shipping_and_tax_and_free_over_the_threshold() {
    let app = spawn_app().await;
    add_yen_product(&app).await;
    app.set_checkout_settings(true, TaxBehavior::Exclusive, true)
        .await;
    app.add_to_cart("matcha-bowl", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(
        texts(&cart, ".checkout-notes li")[..2],
        [
            "Shipping: from ¥700, free over ¥10,000 — calculated at checkout.",
            "Taxes calculated at checkout."
        ]
    );
    let payment_url = app.checkout().await;
    let to_tokyo = PageForm::to("JP", "Tokyo", "100-0001");
    let receipt = pay_and_read_receipt(&app, &payment_url, &to_tokyo).await;

    // 10% JCT on top of ¥3,000 and of ¥700 shipping: ¥300 + ¥70.
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "¥3,000"),
            ("Shipping", "¥700"),
            ("Tax", "¥370"),
            ("Amount paid (JPY)", "¥4,070"),
        ])
    );
    let order = app.orders().await[0].clone();
    assert_eq!(order.charged, Some(4070));
    assert_eq!(
        checkout_row(&app, order.id).await,
        (3000, 0, 700, 370, None, Some("JP".into()))
    );

    // Four bowls, ¥12,000: Standard is free, only the items are taxed.
    app.add_to_cart("matcha-bowl", "4").await;
    let payment_url = app.checkout().await;
    let receipt = pay_and_read_receipt(&app, &payment_url, &to_tokyo).await;
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "¥12,000"),
            ("Shipping", "Free"),
            ("Tax", "¥1,200"),
            ("Amount paid (JPY)", "¥13,200"),
        ])
    );
    assert_eq!(app.stock("matcha-bowl").await, Some(5));
}

#[tokio::test]
async fn checkout_follows_the_merchant_s_rates_and_countries_from_the_database() {
    let app = spawn_app().await;
    let mut conn = app.db().await;
    // The merchant ships to two countries only, at one new rate.
    let settings = ShopSettings::new(
        ShopSettings::parse_countries(&["gb", "IE"]).unwrap(),
        false,
        TaxBehavior::Inclusive,
        false,
    )
    .unwrap();
    settings_store::update_settings(&mut conn, &settings)
        .await
        .unwrap();
    for rate in settings_store::shipping_rates(&mut conn).await.unwrap() {
        let retired = ShippingRateDraft {
            active: false,
            ..rate.draft()
        };
        settings_store::update_shipping_rate(&mut conn, rate.id, &retired)
            .await
            .unwrap();
    }
    let courier = ShippingRateDraft::parse(&ShippingRateForm {
        display_name: "Courier",
        min_business_days: "1",
        max_business_days: "3",
        active: true,
        position: 1,
        prices: vec![("USD", "7.25", "")],
    })
    .unwrap();
    settings_store::create_shipping_rate(&mut conn, &courier)
        .await
        .unwrap();

    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(
        texts(&cart, ".checkout-notes li"),
        [
            "Shipping: from $7.25, calculated at checkout.",
            "Prices include tax."
        ],
        "no promotion codes: the cart does not mention them"
    );
    let payment_url = app.checkout().await;
    let session = session_of(&app, &payment_url).await;
    assert_eq!(
        session["shipping_address_collection"]["allowed_countries"],
        json!(["GB", "IE"])
    );
    assert_eq!(session["allow_promotion_codes"], Value::Null);
    let labels: Vec<String> = hosted_page(&payment_url)
        .await
        .shipping_options
        .into_iter()
        .map(|o| o.1)
        .collect();
    assert_eq!(labels, ["Courier: $7.25 (1–3 business days)"]);
    // Stripe's page refuses an address outside those countries.
    let refused = pay_as(&payment_url, &PageForm::default()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("We cannot ship to this country.")
    );
    assert_eq!(app.orders().await[0].status, "pending");
    let to_london = PageForm::to("GB", "", "SW1A 1AA");
    let receipt = pay_and_read_receipt(&app, &payment_url, &to_london).await;
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$24.00"),
            ("Shipping", "$7.25"),
            ("Amount paid (USD)", "$31.25"),
        ])
    );
}

/// A stored rate as a draft, to change one field.
#[tokio::test]
async fn an_order_whose_dearest_shipping_would_pass_stripe_s_maximum_is_refused_and_reserves_nothing()
 {
    let app = spawn_app().await;
    // $999,990.00: with Standard ($5.00) it could be paid, with Express ($15.00) not.
    app.db()
        .await
        .batch_execute(
            "UPDATE products SET price_minor = 99999000 WHERE slug = 'aurora-ceramic-mug'",
        )
        .await
        .unwrap();
    let stock = app.stock("aurora-ceramic-mug").await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;

    let response = app.post_form("/checkout", &[]).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("One payment can be at most $999,999.99"),
        "{page}"
    );
    assert!(app.orders().await.is_empty(), "no order was created");
    assert_eq!(
        app.stock("aurora-ceramic-mug").await,
        stock,
        "nothing reserved"
    );
}
