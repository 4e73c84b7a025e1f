//! The Settings page of the back office through the real stack: countries,
//! tax and promotion codes changed there reach the next Stripe Checkout
//! session and the cart, a new shipping rate is offered in its currency and
//! a deactivated one is not (orders keep what they offered), bad input is
//! refused with the page again and changes nothing, and every change is in
//! the audit log.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::{Value, json};
use storefront::db::schema::{audit_log, order_shipping_options, orders, shipping_rates};
use storefront::shop_settings::domain::{ShippingRate, ShopSettings};
use storefront::shop_settings::store as settings_store;

use super::Staff;
use crate::helpers::{TestApp, hosted_page, spawn_app, texts};
use crate::shipping::session_of;

/// The settings and every rate, as checkout reads them.
async fn stored(app: &TestApp) -> (ShopSettings, Vec<ShippingRate>) {
    let mut conn = app.db().await;
    (
        settings_store::settings(&mut conn).await.unwrap(),
        settings_store::shipping_rates(&mut conn).await.unwrap(),
    )
}

/// The audit log's entries: (action, subject, before, after), oldest first.
async fn audit(app: &TestApp) -> Vec<(String, String, Option<Value>, Option<Value>)> {
    audit_log::table
        .order_by(audit_log::id)
        .select((
            audit_log::action,
            audit_log::subject,
            audit_log::before,
            audit_log::after,
        ))
        .load(&mut app.db().await)
        .await
        .unwrap()
}

async fn rate_id(app: &TestApp, name: &str) -> i64 {
    shipping_rates::table
        .filter(shipping_rates::display_name.eq(name))
        .select(shipping_rates::id)
        .first(&mut app.db().await)
        .await
        .unwrap()
}

/// The country codes ticked on the settings page.
fn ticked_countries(page: &str) -> Vec<String> {
    let html = Html::parse_document(page);
    let ticked = Selector::parse("input[name=\"shipping_countries\"][checked]").unwrap();
    html.select(&ticked)
        .filter_map(|input| input.value().attr("value").map(str::to_owned))
        .collect()
}

fn assert_redirect(response: &reqwest::Response, to: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"].to_str().unwrap(), to);
}

#[tokio::test]
async fn countries_tax_and_codes_saved_on_the_page_reach_the_next_checkout_and_the_cart() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (status, page) = staff.page("/admin/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ticked_countries(&page),
        ["CA", "FR", "DE", "JP", "GB", "US"],
        "the sample shop's countries, by name"
    );
    assert_eq!(
        texts(&page, ".rates-table tbody th"),
        ["Standard", "Express"]
    );

    let response = staff
        .post(
            "/admin/settings",
            &[
                ("shipping_countries", "GB"),
                ("shipping_countries", "IE"),
                ("tax_behavior", "exclusive"),
                ("automatic_tax", "1"),
            ],
        )
        .await;
    assert_redirect(&response, "/admin/settings?notice=settings-saved");
    let (_, page) = staff.page("/admin/settings?notice=settings-saved").await;
    assert_eq!(
        texts(&page, ".flash-success"),
        ["Settings saved: the next checkout follows them."]
    );
    assert_eq!(ticked_countries(&page), ["IE", "GB"]);
    assert_eq!(
        texts(&page, "#countries-now"),
        ["Now: Ireland, United Kingdom"]
    );

    // The cart says what checkout now does, and Stripe is asked for it.
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
    assert_eq!(
        session["shipping_address_collection"]["allowed_countries"],
        json!(["GB", "IE"])
    );
    assert_eq!(session["automatic_tax"]["enabled"], true);
    assert_eq!(
        session["line_items"]["data"][0]["price"]["tax_behavior"],
        "exclusive"
    );
    assert_eq!(session["allow_promotion_codes"], Value::Null);

    // Codes back on, tax off: the next session follows again.
    let response = staff
        .post(
            "/admin/settings",
            &[
                ("shipping_countries", "GB"),
                ("shipping_countries", "IE"),
                ("tax_behavior", "inclusive"),
                ("promotion_codes", "1"),
            ],
        )
        .await;
    assert_redirect(&response, "/admin/settings?notice=settings-saved");
    // (The same cart unchanged would get its open payment page back.)
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let session = session_of(&app, &payment_url).await;
    assert_eq!(session["allow_promotion_codes"], true);
    assert_eq!(session["automatic_tax"]["enabled"], false);

    let changes: Vec<_> = audit(&app)
        .await
        .into_iter()
        .filter(|(action, ..)| action == "settings.updated")
        .collect();
    assert_eq!(changes.len(), 2);
    let (_, subject, before, after) = &changes[0];
    assert_eq!(subject, "settings");
    assert_eq!(
        before.as_ref().unwrap(),
        &json!({
            "shipping_countries": "US, CA, GB, DE, FR, JP",
            "automatic_tax": false,
            "prices_include_tax": true,
            "promotion_codes": true,
        })
    );
    assert_eq!(
        after.as_ref().unwrap(),
        &json!({
            "shipping_countries": "GB, IE",
            "automatic_tax": true,
            "prices_include_tax": false,
            "promotion_codes": false,
        })
    );
    // The audit page lists both, each linking to the page.
    let (_, log) = staff.page("/admin/audit?subject=settings").await;
    assert_eq!(
        texts(&log, ".audit tbody th a[href=\"/admin/settings\"]"),
        ["settings", "settings"]
    );
}

/// A rate's form as the page fills it for `rate`, with `changes` applied.
fn rate_fields<'a>(
    rate: &'a [(&'a str, &'a str)],
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields: Vec<(&str, &str)> = rate
        .iter()
        .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
        .copied()
        .collect();
    fields.extend(changes.iter().filter(|(_, value)| !value.is_empty()));
    fields
}

#[tokio::test]
async fn a_new_rate_is_offered_in_its_currency_and_a_deactivated_one_is_not() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    // An order placed before the change offered Standard and Express.
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.checkout().await;
    let earlier: i64 = orders::table
        .select(orders::id)
        .first(&mut app.db().await)
        .await
        .unwrap();

    let courier = [
        ("display_name", "Courier"),
        ("min_business_days", "1"),
        ("max_business_days", "3"),
        ("position", "0"),
        ("active", "1"),
        ("price_USD", "7.25"),
        ("free_over_USD", "100"),
        ("price_JPY", "900"),
    ];
    let response = staff.post("/admin/settings/shipping-rates", &courier).await;
    let courier_id = rate_id(&app, "Courier").await;
    assert_redirect(
        &response,
        &format!("/admin/settings?notice=rate-created#rate-{courier_id}"),
    );
    // Priced in pounds only: no US checkout offers it.
    let response = staff
        .post(
            "/admin/settings/shipping-rates",
            &[
                ("display_name", "Royal Post"),
                ("position", "1"),
                ("active", "1"),
                ("price_GBP", "3.50"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let royal_post = rate_id(&app, "Royal Post").await;
    // Express stops being offered: its active box unticked, all else kept.
    let express = rate_id(&app, "Express").await;
    let express_form = [
        ("display_name", "Express"),
        ("min_business_days", "1"),
        ("max_business_days", "2"),
        ("position", "2"),
        ("active", "1"),
        ("price_USD", "15.00"),
        ("price_EUR", "15.00"),
        ("price_GBP", "12.00"),
        ("price_JPY", "2000"),
    ];
    let response = staff
        .post(
            &format!("/admin/settings/shipping-rates/{express}"),
            &rate_fields(&express_form, &[("active", "")]),
        )
        .await;
    assert_redirect(
        &response,
        &format!("/admin/settings?notice=rate-saved#rate-{express}"),
    );

    let (_, page) = staff.page("/admin/settings").await;
    assert_eq!(
        texts(&page, ".rates-table tbody th"),
        ["Courier", "Standard", "Royal Post", "Express"],
        "in position order"
    );
    assert_eq!(
        texts(&page, &format!("#rate-{courier_id}-title")),
        ["Edit “Courier”"]
    );
    // A second mug: not the earlier checkout again, whose page is still open.
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let payment_url = app.checkout().await;
    let labels: Vec<String> = hosted_page(&payment_url)
        .await
        .shipping_options
        .into_iter()
        .map(|(_, label)| label)
        .collect();
    assert_eq!(
        labels,
        [
            "Courier: $7.25 (1–3 business days)",
            "Standard: $5.00 (3–5 business days)"
        ]
    );
    let amounts: Vec<Value> = session_of(&app, &payment_url).await["shipping_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| option["shipping_amount"].clone())
        .collect();
    assert_eq!(amounts, [json!(725), json!(500)]);
    // The earlier order keeps the options it offered.
    let kept: Vec<String> = order_shipping_options::table
        .filter(order_shipping_options::order_id.eq(earlier))
        .order_by(order_shipping_options::position)
        .select(order_shipping_options::display_name)
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(kept, ["Standard", "Express"]);

    let entries = audit(&app).await;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|(action, subject, ..)| (action.as_str(), subject.as_str()))
        .filter(|(action, _)| action.starts_with("shipping_rate."))
        .collect();
    let courier_subject = format!("shipping_rate:{courier_id}");
    let royal_post_subject = format!("shipping_rate:{royal_post}");
    let express_subject = format!("shipping_rate:{express}");
    assert_eq!(
        actions,
        [
            ("shipping_rate.created", courier_subject.as_str()),
            ("shipping_rate.created", royal_post_subject.as_str()),
            ("shipping_rate.updated", express_subject.as_str()),
        ]
    );
    let created = entries
        .iter()
        .find(|(_, subject, ..)| *subject == courier_subject)
        .unwrap();
    assert_eq!(created.2, None);
    assert_eq!(
        created.3.as_ref().unwrap(),
        &json!({
            "display_name": "Courier",
            "delivery": "1–3 business days",
            "active": true,
            "position": 0,
            "prices": "JPY 900; USD 7.25 free over 100.00",
        })
    );
    let updated = entries
        .iter()
        .find(|(_, subject, ..)| *subject == express_subject)
        .unwrap();
    assert_eq!(updated.2.as_ref().unwrap()["active"], true);
    assert_eq!(updated.3.as_ref().unwrap()["active"], false);
    assert_eq!(
        updated.2.as_ref().unwrap()["prices"],
        updated.3.as_ref().unwrap()["prices"],
        "only the active box changed"
    );
}

/// A refused form: (path, fields, where the message is, the message).
type Refused<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn bad_input_shows_the_page_again_with_the_message_and_changes_nothing() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let standard = rate_id(&app, "Standard").await;
    let before = stored(&app).await;
    let audit_before = audit(&app).await.len();

    let settings = |countries: &[&'static str], tax: &'static str| {
        let mut fields: Vec<(&str, &str)> = countries
            .iter()
            .map(|code| ("shipping_countries", *code))
            .collect();
        fields.push(("tax_behavior", tax));
        fields
    };
    let standard_path = format!("/admin/settings/shipping-rates/{standard}");
    let standard_error = format!("#rate-{standard}-prices-error");
    let cases: Vec<Refused<'_>> = vec![
        (
            "/admin/settings",
            settings(&[], "inclusive"),
            "#countries-error",
            "Choose at least one country to ship to.",
        ),
        (
            "/admin/settings",
            settings(&["US", "Narnia"], "inclusive"),
            "#countries-error",
            "\"Narnia\" is not a country code Stripe ships to.",
        ),
        (
            "/admin/settings",
            settings(&["US"], ""),
            "#tax-error",
            "Choose whether prices include tax or have it added.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![("display_name", " "), ("position", "3"), ("price_USD", "5")],
            "#rate-new-name-error",
            "Give the rate a name of 1 to 100 characters.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![
                ("display_name", "Slow boat"),
                ("min_business_days", "9"),
                ("max_business_days", "4"),
                ("position", "3"),
                ("price_USD", "5"),
            ],
            "#rate-new-delivery-error",
            "The delivery estimate is 1 to 365 business days, the shortest first.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![
                ("display_name", "Slow boat"),
                ("position", "3"),
                ("price_USD", "-5"),
            ],
            "#rate-new-prices-error",
            "\"-5\" is not an amount in USD: the amount must not be negative.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![
                ("display_name", "Slow boat"),
                ("position", "3"),
                ("price_USD", "5.001"),
            ],
            "#rate-new-prices-error",
            "\"5.001\" is not an amount in USD: USD amounts have at most 2 decimal places.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![
                ("display_name", "Slow boat"),
                ("position", "3"),
                ("price_JPY", "700.5"),
            ],
            "#rate-new-prices-error",
            "\"700.5\" is not an amount in JPY: JPY amounts are whole numbers, without decimals.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![("display_name", "Slow boat"), ("position", "3")],
            "#rate-new-prices-error",
            "Price the rate in at least one currency.",
        ),
        (
            "/admin/settings/shipping-rates",
            vec![
                ("display_name", "Slow boat"),
                ("position", "later"),
                ("price_USD", "5"),
            ],
            "#rate-new-position-error",
            "The position is a whole number: rates are offered lowest first.",
        ),
        (
            &standard_path,
            vec![
                ("display_name", "Standard"),
                ("position", "1"),
                ("active", "1"),
                ("price_EUR", "5,00"),
            ],
            &standard_error,
            "\"5,00\" is not an amount in EUR: \"5,00\" is not a valid amount.",
        ),
    ];

    for (path, fields, selector, message) in &cases {
        let response = staff.post(path, fields).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{path} {fields:?}"
        );
        let page = response.text().await.unwrap();
        assert_eq!(texts(&page, selector), [*message], "{path} {fields:?}");
        assert_eq!(texts(&page, ".flash-error").len(), 1, "{fields:?}");
    }
    // What was typed is kept; what is saved is still said.
    let response = staff
        .post(
            "/admin/settings",
            &[("shipping_countries", "IE"), ("tax_behavior", "both")],
        )
        .await;
    let page = response.text().await.unwrap();
    assert_eq!(ticked_countries(&page), ["IE"]);
    assert_eq!(
        texts(&page, "#countries-now"),
        ["Now: Canada, France, Germany, Japan, United Kingdom, United States"]
    );
    let response = staff
        .post(
            "/admin/settings/shipping-rates",
            &[("display_name", "Slow boat"), ("price_USD", "5.001")],
        )
        .await;
    let page = response.text().await.unwrap();
    let html = Html::parse_document(&page);
    let typed = |id: &str| {
        let selector = Selector::parse(&format!("#{id}")).unwrap();
        html.select(&selector)
            .next()
            .unwrap()
            .value()
            .attr("value")
            .unwrap()
            .to_owned()
    };
    assert_eq!(typed("rate-new-name"), "Slow boat");
    assert_eq!(typed("rate-new-price_USD"), "5.001");

    // An unknown rate is a 404, valid form or not.
    for fields in [
        vec![
            ("display_name", "Ghost"),
            ("position", "1"),
            ("price_USD", "5"),
        ],
        vec![("display_name", ""), ("position", "x")],
    ] {
        let response = staff
            .post("/admin/settings/shipping-rates/987654", &fields)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response = staff
        .post("/admin/settings/shipping-rates/not-a-number", &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Without the form's token, nothing either.
    let response = staff
        .client
        .post(staff.url("/admin/settings"))
        .form(&[("shipping_countries", "IE"), ("tax_behavior", "inclusive")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    assert_eq!(stored(&app).await, before, "nothing changed");
    assert_eq!(audit(&app).await.len(), audit_before, "nothing recorded");
}
