//! Checkout that ships: shipping addresses and options, the test tax, and
//! the totals sessions report, through the API and the hosted page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{self, Fields, Sim};
use crate::schema::assert_valid;

/// A session shipping to the US, GB and DE with two options: "Standard" (inline,
/// $5.00, 5–7 business days) and "Express" ($15.00, a created rate).
async fn shipping_session(sim: &Sim, extra: &[(&'static str, &str)]) -> Value {
    let express = sim
        .post(
            "/v1/shipping_rates",
            &[
                ("display_name", "Express".into()),
                ("type", "fixed_amount".into()),
                ("fixed_amount[amount]", "1500".into()),
                ("fixed_amount[currency]", "usd".into()),
                ("tax_behavior", "exclusive".into()),
            ],
        )
        .await
        .ok();
    assert_valid("shipping_rate", &express);
    let express_id = express["id"].as_str().unwrap().to_owned();
    let mut params: Vec<(&'static str, &str)> = vec![
        ("shipping_address_collection[allowed_countries][0]", "US"),
        ("shipping_address_collection[allowed_countries][1]", "GB"),
        ("shipping_address_collection[allowed_countries][2]", "DE"),
        (
            "shipping_options[0][shipping_rate_data][display_name]",
            "Standard",
        ),
        (
            "shipping_options[0][shipping_rate_data][type]",
            "fixed_amount",
        ),
        (
            "shipping_options[0][shipping_rate_data][fixed_amount][amount]",
            "500",
        ),
        (
            "shipping_options[0][shipping_rate_data][fixed_amount][currency]",
            "usd",
        ),
        (
            "shipping_options[0][shipping_rate_data][tax_behavior]",
            "exclusive",
        ),
        (
            "shipping_options[0][shipping_rate_data][delivery_estimate][minimum][unit]",
            "business_day",
        ),
        (
            "shipping_options[0][shipping_rate_data][delivery_estimate][minimum][value]",
            "5",
        ),
        (
            "shipping_options[0][shipping_rate_data][delivery_estimate][maximum][unit]",
            "business_day",
        ),
        (
            "shipping_options[0][shipping_rate_data][delivery_estimate][maximum][value]",
            "7",
        ),
        ("shipping_options[1][shipping_rate]", &express_id),
        ("line_items[0][price_data][tax_behavior]", "exclusive"),
    ];
    params.extend_from_slice(extra);
    sim.create_session(&params).await
}

/// The hosted form's address fields, for a GB address.
fn gb_address() -> Vec<(&'static str, &'static str)> {
    vec![
        ("shipping_name", "Jenny Rosen"),
        ("shipping_line1", "10 Downing Street"),
        ("shipping_city", "London"),
        ("shipping_postal_code", "SW1A 2AA"),
        ("shipping_country", "GB"),
        ("card_number", "4242424242424242"),
    ]
}

/// The opening tag of the element with this id.
pub fn tag<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html.find(&format!(r#"id="{id}""#)).expect("the element");
    let start = html[..start].rfind('<').unwrap();
    let end = start + html[start..].find('>').unwrap();
    &html[start..=end]
}

pub async fn page(sim: &Sim, session: &Value) -> String {
    let url = session["url"].as_str().unwrap();
    sim.http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn sessions_without_shipping_tax_or_codes_report_plain_totals() {
    let sim = harness::start().await;
    let session = sim.create_session(&[]).await;
    assert_eq!(session["allow_promotion_codes"], Value::Null);
    assert_eq!(
        session["automatic_tax"],
        json!({ "enabled": false, "status": null })
    );
    assert_eq!(session["shipping_address_collection"], Value::Null);
    assert_eq!(session["shipping_cost"], Value::Null);
    assert_eq!(session["shipping_details"], Value::Null);
    assert_eq!(session["shipping_options"], json!([]));
    assert_eq!(session["discounts"], Value::Null);
    assert_eq!(session["collected_information"], Value::Null);
    assert_eq!(
        session["total_details"],
        json!({ "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 })
    );
    // Without payment_method_types: card, and the usd bank debit.
    assert_eq!(
        session["payment_method_types"],
        json!(["card", "us_bank_account"])
    );
    let card_only = sim
        .create_session(&[("payment_method_types[0]", "card")])
        .await;
    assert_eq!(card_only["payment_method_types"], json!(["card"]));
    let html = page(&sim, &card_only).await;
    assert!(!html.contains("name=\"payment_method\""));
    assert!(!html.contains("Subtotal"));
    sim.shutdown().await;
}

#[tokio::test]
async fn shipping_options_are_offered_and_the_first_is_the_default_cost() {
    let sim = harness::start().await;
    let session = shipping_session(&sim, &[]).await;
    assert_eq!(
        session["shipping_address_collection"],
        json!({ "allowed_countries": ["US", "GB", "DE"] })
    );
    let options = session["shipping_options"].as_array().unwrap();
    assert_eq!(options.len(), 2);
    assert_eq!(options[0]["shipping_amount"], 500);
    assert_eq!(options[1]["shipping_amount"], 1500);
    let standard = options[0]["shipping_rate"].as_str().unwrap();
    assert_eq!(
        session["shipping_cost"],
        json!({ "amount_subtotal": 500, "amount_tax": 0, "amount_total": 500, "shipping_rate": standard })
    );
    assert_eq!(session["amount_subtotal"], 2500);
    assert_eq!(session["amount_total"], 3000);
    assert_eq!(session["total_details"]["amount_shipping"], 500);
    // The inline rate was created, as Stripe does.
    let rate = sim
        .get(&format!("/v1/shipping_rates/{standard}"), &[])
        .await
        .ok();
    assert_valid("shipping_rate", &rate);
    assert_eq!(rate["display_name"], "Standard");
    assert_eq!(
        rate["delivery_estimate"]["maximum"],
        json!({ "unit": "business_day", "value": 7 })
    );
    let expanded = sim
        .get(
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
            &[("expand[]", "shipping_cost.shipping_rate")],
        )
        .await
        .ok();
    assert_eq!(expanded["shipping_cost"]["shipping_rate"]["id"], standard);

    let html = page(&sim, &session).await;
    for needle in [
        r#"<legend>Shipping address</legend>"#,
        r#"<option value="GB">United Kingdom</option>"#,
        r#"name="shipping_rate" value=""#,
        "Standard: $5.00 <span class=\"desc\">(5–7 business days)</span>",
        "Express: $15.00",
        r#"<label for="shipping_postal_code">"#,
        r#"<datalist id="regions">"#,
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(html.contains(&format!(r#"value="{standard}" checked"#)));
    sim.shutdown().await;
}

#[tokio::test]
async fn paying_with_an_address_and_express_shipping_reports_tax_and_shipping() {
    let sim = harness::start().await;
    let session = shipping_session(&sim, &[("automatic_tax[enabled]", "true")]).await;
    assert_eq!(
        session["automatic_tax"],
        json!({ "enabled": true, "status": "requires_location_inputs" })
    );
    assert!(
        page(&sim, &session)
            .await
            .contains("Calculated from your address")
    );
    let express = session["shipping_options"][1]["shipping_rate"]
        .as_str()
        .unwrap();
    let mut fields = gb_address();
    fields.push(("shipping_rate", express));
    let response = sim.pay_form(&session, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let id = session["id"].as_str().unwrap();
    let paid = sim
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[
                ("expand[]", "total_details.breakdown"),
                ("expand[]", "line_items"),
            ],
        )
        .await
        .ok();
    assert_valid("checkout.session", &paid);
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(paid["automatic_tax"]["status"], "complete");
    // GB VAT at 20% on $25.00 of items and $15.00 of shipping.
    assert_eq!(paid["amount_subtotal"], 2500);
    assert_eq!(
        paid["shipping_cost"],
        json!({ "amount_subtotal": 1500, "amount_tax": 300, "amount_total": 1800, "shipping_rate": express })
    );
    assert_eq!(paid["total_details"]["amount_discount"], 0);
    assert_eq!(paid["total_details"]["amount_shipping"], 1500);
    assert_eq!(paid["total_details"]["amount_tax"], 800);
    assert_eq!(paid["amount_total"], 4800);
    let taxes = &paid["total_details"]["breakdown"]["taxes"];
    assert_eq!(taxes[0]["amount"], 800);
    assert_eq!(taxes[0]["taxable_amount"], 4000);
    assert_eq!(taxes[0]["rate"]["percentage"], 20.0);
    assert_eq!(taxes[0]["rate"]["country"], "GB");
    assert_eq!(taxes[0]["rate"]["inclusive"], false);
    let item = &paid["line_items"]["data"][0];
    assert_eq!(
        (
            &item["amount_subtotal"],
            &item["amount_tax"],
            &item["amount_total"]
        ),
        (&json!(2500), &json!(500), &json!(3000))
    );
    let address = json!({
        "city": "London", "country": "GB", "line1": "10 Downing Street",
        "line2": null, "postal_code": "SW1A 2AA", "state": null
    });
    assert_eq!(paid["shipping_details"]["address"], address);
    assert_eq!(paid["shipping_details"]["name"], "Jenny Rosen");
    assert_eq!(
        paid["collected_information"]["shipping_details"],
        json!({ "address": address, "name": "Jenny Rosen" })
    );
    assert_eq!(paid["customer_details"]["address"], address);
    let intent = sim
        .get(
            &format!(
                "/v1/payment_intents/{}",
                paid["payment_intent"].as_str().unwrap()
            ),
            &[],
        )
        .await
        .ok();
    assert_valid("payment_intent", &intent);
    assert_eq!(intent["amount"], 4800);
    assert_eq!(intent["shipping"]["address"], address);
    let completed = sim
        .get("/v1/events", &[("type", "checkout.session.completed")])
        .await
        .ok();
    assert_eq!(completed["data"][0]["data"]["object"]["amount_total"], 4800);
    sim.shutdown().await;
}

#[tokio::test]
async fn inclusive_tax_is_inside_the_prices() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("automatic_tax[enabled]", "true"),
            ("shipping_address_collection[allowed_countries][0]", "DE"),
            ("line_items[0][price_data][currency]", "eur"),
            ("line_items[0][price_data][unit_amount]", "595"),
            ("line_items[0][price_data][tax_behavior]", "inclusive"),
            (
                "shipping_options[0][shipping_rate_data][display_name]",
                "DHL",
            ),
            (
                "shipping_options[0][shipping_rate_data][fixed_amount][amount]",
                "595",
            ),
            (
                "shipping_options[0][shipping_rate_data][fixed_amount][currency]",
                "eur",
            ),
            (
                "shipping_options[0][shipping_rate_data][tax_behavior]",
                "inclusive",
            ),
        ])
        .await;
    assert_eq!(
        session["payment_method_types"],
        json!(["card", "sepa_debit"])
    );
    let response = sim
        .pay_form(
            &session,
            &[
                ("shipping_name", "Max Mustermann"),
                ("shipping_line1", "Unter den Linden 1"),
                ("shipping_city", "Berlin"),
                ("shipping_postal_code", "10117"),
                ("shipping_country", "DE"),
                ("card_number", "4242424242424242"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let paid = sim.session(session["id"].as_str().unwrap()).await;
    // 19% inside €11.90 of items and €5.95 of shipping: €1.90 and €0.95.
    assert_eq!(paid["amount_subtotal"], 1190);
    assert_eq!(paid["amount_total"], 1785);
    assert_eq!(paid["total_details"]["amount_tax"], 285);
    assert_eq!(paid["shipping_cost"]["amount_tax"], 95);
    assert_eq!(paid["shipping_cost"]["amount_total"], 595);
    let items = sim
        .get(
            &format!(
                "/v1/checkout/sessions/{}/line_items",
                paid["id"].as_str().unwrap()
            ),
            &[],
        )
        .await
        .ok();
    assert_eq!(items["data"][0]["amount_tax"], 190);
    assert_eq!(items["data"][0]["amount_total"], 1190);
    assert_eq!(items["data"][0]["price"]["tax_behavior"], "inclusive");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_total_the_customer_has_not_seen_is_shown_before_it_is_charged() {
    let sim = harness::start().await;
    let session = shipping_session(&sim, &[("automatic_tax[enabled]", "true")]).await;
    assert!(
        page(&sim, &session)
            .await
            .contains(r#"name="shown_total" value="3000""#)
    );
    // Totals can be previewed without paying.
    let mut preview = gb_address();
    preview.push(("step", "update"));
    let response = sim.pay_form(&session, &preview).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("VAT (20%)"), "{html}");
    assert!(html.contains(r#"name="shown_total" value="3600""#));
    // Paying with the old total shows the new one first.
    let mut fields = gb_address();
    fields.push(("shown_total", "3000"));
    let response = sim.pay_form(&session, &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"role="status" id="payment-notice">Your total is now $36.00."#));
    assert_eq!(
        sim.session(session["id"].as_str().unwrap()).await["status"],
        "open"
    );
    assert!(sim.event_types().await.is_empty(), "nothing was charged");
    let mut fields = gb_address();
    fields.push(("shown_total", "3600"));
    assert_eq!(
        sim.pay_form(&session, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sim.session(session["id"].as_str().unwrap()).await["amount_total"],
        3600
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn addresses_are_checked_for_their_country() {
    let sim = harness::start().await;
    let session = shipping_session(&sim, &[("automatic_tax[enabled]", "true")]).await;
    let cases: [(Fields<'_>, &str, &str); 7] = [
        (
            &[("shipping_country", "FR")],
            "shipping_country",
            "We cannot ship to this country.",
        ),
        (
            &[("shipping_name", " ")],
            "shipping_name",
            "Your name is required.",
        ),
        (
            &[("shipping_line1", "")],
            "shipping_line1",
            "Your address is incomplete.",
        ),
        (
            &[("shipping_postal_code", "SW1A")],
            "shipping_postal_code",
            "Your postal code is invalid.",
        ),
        (
            &[("shipping_country", "DE"), ("shipping_postal_code", "1011")],
            "shipping_postal_code",
            "Your postal code is invalid.",
        ),
        (
            &[
                ("shipping_country", "US"),
                ("shipping_postal_code", "94103"),
            ],
            "shipping_state",
            "Your state or province is incomplete.",
        ),
        (
            &[("shipping_rate", "shr_nope")],
            "shipping_rate",
            "Choose a shipping method.",
        ),
    ];
    for (changes, field, message) in cases {
        let mut fields = gb_address();
        fields.extend_from_slice(changes);
        let response = sim.pay_form(&session, &fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!(r#"id="payment-error">{message}"#)),
            "{changes:?}: {html}"
        );
        if field != "shipping_rate" {
            assert!(
                tag(&html, field).contains(r#"aria-invalid="true""#),
                "{field}"
            );
        }
    }
    assert!(sim.event_types().await.is_empty());
    // A US address names its state; California's rate applies.
    let mut fields = gb_address();
    fields.extend([
        ("shipping_country", "US"),
        ("shipping_state", "California"),
        ("shipping_postal_code", "94103-1234"),
    ]);
    assert_eq!(
        sim.pay_form(&session, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    let paid = sim.session(session["id"].as_str().unwrap()).await;
    assert_eq!(paid["shipping_details"]["address"]["state"], "CA");
    // 7.25% of $25.00 and of $5.00: $1.81 (rounded half up) and $0.36.
    assert_eq!(paid["total_details"]["amount_tax"], 181 + 36);
    sim.shutdown().await;
}

#[tokio::test]
async fn tax_without_shipping_asks_for_a_billing_location() {
    let sim = harness::start().await;
    let session = sim
        .create_session(&[
            ("automatic_tax[enabled]", "true"),
            ("line_items[0][price_data][tax_behavior]", "exclusive"),
        ])
        .await;
    let html = page(&sim, &session).await;
    assert!(html.contains("<legend>Billing address</legend>"));
    assert!(html.contains(r#"<option value="FR">France</option>"#));
    assert!(!html.contains("shipping_line1"));
    let fields = [
        ("billing_country", "FR"),
        ("billing_postal_code", "75001"),
        ("card_number", "4242424242424242"),
    ];
    assert_eq!(
        sim.pay_form(&session, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    let paid = sim.session(session["id"].as_str().unwrap()).await;
    assert_valid("checkout.session", &paid);
    assert_eq!(paid["total_details"]["amount_tax"], 500);
    assert_eq!(paid["amount_total"], 3000);
    assert_eq!(paid["customer_details"]["address"]["country"], "FR");
    assert_eq!(paid["shipping_details"], Value::Null);
    // Anywhere without a rate, nothing is added.
    let other = sim
        .create_session(&[("automatic_tax[enabled]", "true")])
        .await;
    let fields = [
        ("billing_country", "NL"),
        ("card_number", "4242424242424242"),
    ];
    assert_eq!(
        sim.pay_form(&other, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    let paid = sim.session(other["id"].as_str().unwrap()).await;
    assert_eq!(
        (&paid["amount_total"], &paid["total_details"]["amount_tax"]),
        (&json!(2500), &json!(0))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shipping_parameters_are_validated_like_stripe() {
    let sim = harness::start().await;
    let cases: [(Fields<'_>, &str); 6] = [
        (
            &[("shipping_address_collection[allowed_countries][0]", "XX")],
            "shipping_address_collection[allowed_countries][0]",
        ),
        (
            &[("shipping_options[0][shipping_rate]", "shr_nope")],
            "shipping_options[0][shipping_rate]",
        ),
        (
            &[(
                "shipping_options[0][shipping_rate_data][display_name]",
                "Slow",
            )],
            "shipping_options[0][shipping_rate_data][fixed_amount]",
        ),
        (
            &[
                (
                    "shipping_options[0][shipping_rate_data][display_name]",
                    "Slow",
                ),
                (
                    "shipping_options[0][shipping_rate_data][fixed_amount][amount]",
                    "100",
                ),
                (
                    "shipping_options[0][shipping_rate_data][fixed_amount][currency]",
                    "eur",
                ),
            ],
            "shipping_options[0]",
        ),
        (
            &[("automatic_tax[enabled]", "maybe")],
            "automatic_tax[enabled]",
        ),
        (
            &[("line_items[0][price_data][tax_behavior]", "sometimes")],
            "line_items[0][price_data][tax_behavior]",
        ),
    ];
    for (extra, param) in cases {
        let mut form = harness::session_params();
        form.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let err = sim.post("/v1/checkout/sessions", &form).await.error(400);
        assert_eq!(err["param"], param, "{err:#}");
    }
    // Nothing was created by the refused requests.
    assert_eq!(
        sim.get("/v1/shipping_rates", &[]).await.ok()["data"],
        json!([])
    );
    sim.shutdown().await;
}
