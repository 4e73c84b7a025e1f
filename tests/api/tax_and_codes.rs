//! Tax and promotion codes through the hosted page: Stripe's automatic tax
//! switched on and off, prices meant with tax or without, promotion codes
//! applied, refused (expired, used up) and recorded, and Stripe's figures
//! checked before an order is fulfilled.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use storefront::db::schema::{order_checkouts, order_issues};
use storefront::shop_settings::domain::TaxBehavior;
use storefront::stripe::webhook::sign;

use crate::checkout::{paid, post_webhook, unix_now};
use crate::helpers::{PageForm, TestApp, hosted_page, pay_as, spawn_app, submit, texts};
use crate::shipping::{lines, pay_and_read_receipt, receipt_lines, session_of};

#[tokio::test]
async fn automatic_tax_on_exclusive_prices_adds_the_destination_s_tax_to_items_and_shipping() {
    let app = spawn_app().await;
    app.set_checkout_settings(true, TaxBehavior::Exclusive, true)
        .await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(texts(&cart, "#tax-note"), ["Taxes calculated at checkout."]);
    let payment_url = app.checkout().await;
    let session = app
        .stripe_get(&format!(
            "/v1/checkout/sessions/{}?expand[]=line_items",
            payment_url.rsplit('/').next().unwrap()
        ))
        .await;
    assert_eq!(session["automatic_tax"]["enabled"], true);
    assert_eq!(
        session["line_items"]["data"][0]["price"]["tax_behavior"],
        "exclusive"
    );

    // California: 7.25% of $24.00 ($1.74) and of $5.00 shipping ($0.36).
    let receipt = pay_and_read_receipt(&app, &payment_url, &PageForm::default()).await;

    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$24.00"),
            ("Shipping", "$5.00"),
            ("Tax", "$2.10"),
            ("Amount paid (USD)", "$31.10"),
        ])
    );
    assert_eq!(app.orders().await[0].charged, Some(3110));
}

#[tokio::test]
async fn automatic_tax_on_inclusive_prices_keeps_the_total_and_shows_the_tax_inside_it() {
    let app = spawn_app().await;
    app.set_checkout_settings(true, TaxBehavior::Inclusive, true)
        .await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(texts(&cart, "#tax-note"), ["Prices include tax."]);
    let payment_url = app.checkout().await;
    let to_london = PageForm::to("GB", "", "SW1A 1AA");

    // 20% VAT inside $24.00 ($4.00) and inside $5.00 shipping ($0.83).
    let receipt = pay_and_read_receipt(&app, &payment_url, &to_london).await;

    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$24.00"),
            ("Shipping", "$5.00"),
            ("Amount paid (USD)", "$29.00"),
            ("Including tax", "$4.83"),
        ])
    );
    let order = app.orders().await[0].clone();
    assert_eq!((order.status.as_str(), order.charged), ("paid", Some(2900)));
}

#[tokio::test]
async fn with_automatic_tax_off_no_tax_is_added_whatever_the_prices_mean() {
    let app = spawn_app().await;
    app.set_checkout_settings(false, TaxBehavior::Exclusive, true)
        .await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert_eq!(texts(&cart, "#tax-note"), ["No tax is added at checkout."]);
    let payment_url = app.checkout().await;
    assert_eq!(
        session_of(&app, &payment_url).await["automatic_tax"]["enabled"],
        false
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
}

/// Creates a coupon and a promotion code for it at Stripe, as the merchant
/// would in the dashboard; `coupon` and `code` are extra fields.
async fn promotion_code(app: &TestApp, coupon: &[(&str, &str)], code: &[(&str, &str)]) {
    let coupon = app.stripe_post("/v1/coupons", coupon).await;
    let mut fields = vec![("coupon", coupon["id"].as_str().unwrap())];
    fields.extend_from_slice(code);
    app.stripe_post("/v1/promotion_codes", &fields).await;
}

/// The promotion code and discount the order's checkout recorded.
async fn recorded_code(app: &TestApp, order_id: i64) -> (Option<String>, i64) {
    order_checkouts::table
        .find(order_id)
        .select((
            order_checkouts::promotion_code,
            order_checkouts::amount_discount_minor,
        ))
        .first(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_promotion_code_is_applied_on_the_page_and_recorded_with_its_discount() {
    let app = spawn_app().await;
    promotion_code(&app, &[("percent_off", "10")], &[("code", "SAVE10")]).await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    assert!(
        hosted_page(&payment_url).await.total.contains("$29.00"),
        "before the code"
    );
    let with_code = PageForm {
        promotion_code: Some("save10"),
        ..PageForm::default()
    };

    // Apply shows the new total without paying.
    let applied = submit(&payment_url, &with_code, "update").await;
    assert_eq!(applied.status(), StatusCode::OK);
    let applied = applied.text().await.unwrap();
    assert_eq!(
        texts(&applied, "#applied-discount"),
        ["Applied: SAVE10 (10% off)"]
    );
    assert_eq!(texts(&applied, "h1 .total"), ["$26.60"]);
    assert_eq!(app.orders().await[0].status, "pending");

    let receipt = pay_and_read_receipt(&app, &payment_url, &with_code).await;

    // 10% of the items only: shipping is not discounted.
    assert_eq!(
        receipt_lines(&receipt),
        lines(&[
            ("Subtotal", "$24.00"),
            ("Discount SAVE10", "−$2.40"),
            ("Shipping", "$5.00"),
            ("Amount paid (USD)", "$26.60"),
        ])
    );
    let order = app.orders().await[0].clone();
    assert_eq!(order.charged, Some(2660));
    assert_eq!(
        recorded_code(&app, order.id).await,
        (Some("SAVE10".into()), 240),
        "the code as the merchant created it, whatever the case typed"
    );
}

#[tokio::test]
async fn a_code_paid_with_at_once_is_recorded_when_only_the_webhook_settles_the_order() {
    let app = spawn_app().await;
    promotion_code(
        &app,
        &[("amount_off", "500"), ("currency", "usd")],
        &[("code", "FIVEOFF")],
    )
    .await;
    app.add_to_cart("merino-wool-beanie", "1").await;
    let payment_url = app.checkout().await;
    let with_code = PageForm {
        promotion_code: Some("FIVEOFF"),
        ..PageForm::default()
    };

    // The shopper never comes back: the webhook alone settles it.
    let paid_response = pay_as(&payment_url, &with_code).await;
    assert_eq!(paid_response.status(), StatusCode::SEE_OTHER);
    app.eventually("the webhook settled the order", || paid(&app))
        .await;

    let order = app.orders().await[0].clone();
    // $32.00 − $5.00 + $5.00 shipping.
    assert_eq!(order.charged, Some(3200));
    assert_eq!(
        recorded_code(&app, order.id).await,
        (Some("FIVEOFF".into()), 500)
    );
    assert_eq!(app.paid_events().await, 1);
}

#[tokio::test]
async fn expired_and_used_up_codes_are_refused_on_the_page_and_change_nothing() {
    let app = spawn_app().await;
    let soon = (unix_now() + 60).to_string();
    promotion_code(
        &app,
        &[("percent_off", "50")],
        &[("code", "SUMMER"), ("expires_at", soon.as_str())],
    )
    .await;
    promotion_code(
        &app,
        &[("percent_off", "25")],
        &[("code", "ONCE"), ("max_redemptions", "1")],
    )
    .await;
    // ONCE is used once, on a first order...
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let once = PageForm {
        promotion_code: Some("ONCE"),
        ..PageForm::default()
    };
    pay_and_read_receipt(&app, &payment_url, &once).await;
    let first = app.orders().await[0].clone();
    assert_eq!(
        recorded_code(&app, first.id).await,
        (Some("ONCE".into()), 600)
    );
    // A second order's page is open when SUMMER expires.
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    app.sim_advance_clock(120).await;

    let expired = PageForm {
        promotion_code: Some("SUMMER"),
        ..PageForm::default()
    };
    let refused = pay_as(&payment_url, &expired).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        texts(&refused.text().await.unwrap(), "[role=alert]"),
        ["This code has expired."]
    );
    assert_eq!(app.orders().await[1].status, "pending", "nothing was paid");

    // ...and refused on the second, which then pays in full.
    let refused = pay_as(&payment_url, &once).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        texts(&refused.text().await.unwrap(), "[role=alert]"),
        ["This code has reached its redemption limit."]
    );
    let receipt = pay_and_read_receipt(&app, &payment_url, &PageForm::default()).await;
    assert_eq!(texts(&receipt, ".amount-paid"), ["$29.00"]);
    let second = app.orders().await[1].clone();
    assert_eq!(recorded_code(&app, second.id).await, (None, 0));
}

#[tokio::test]
async fn without_promotion_codes_the_page_has_no_code_field() {
    let app = spawn_app().await;
    app.set_checkout_settings(false, TaxBehavior::Inclusive, false)
        .await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let (_, cart) = app.get_page("/cart").await;
    assert!(texts(&cart, "#promotion-note").is_empty());
    let payment_url = app.checkout().await;
    let page = reqwest::get(&payment_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("promotion_code"), "{page}");
    assert_eq!(
        session_of(&app, &payment_url).await["allow_promotion_codes"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_paid_session_whose_figures_do_not_add_up_is_set_aside_for_a_person() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let session_id = payment_url.rsplit('/').next().unwrap();
    let order = app.orders().await[0].clone();
    // Stripe's subtotal is our items', but its total is not subtotal +
    // shipping (prices include tax, so no tax comes on top).
    let event = json!({
        "id": "evt_totals", "type": "checkout.session.completed",
        "data": {"object": {
            "id": session_id, "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_subtotal": order.total,
            "amount_total": order.total + 500 + 174, "currency": "usd",
            "total_details": {"amount_discount": 0, "amount_shipping": 500, "amount_tax": 174},
            "payment_intent": "pi_totals", "metadata": {}
        }}
    })
    .to_string();
    let signature = sign(event.as_bytes(), &app.webhook_secret, unix_now());
    assert_eq!(
        post_webhook(&app, &event, Some(signature)).await.status(),
        StatusCode::OK
    );

    assert_eq!(app.orders().await[0].status, "pending", "not fulfilled");
    let issues: Vec<(String, serde_json::Value)> = order_issues::table
        .filter(order_issues::order_id.eq(order.id))
        .select((order_issues::kind, order_issues::details))
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].0, "totals_mismatch");
    assert_eq!(issues[0].1["stripe_amount_tax"], 174);
    assert_eq!(issues[0].1["prices_include_tax"], true);
}
