//! Coupons and promotion codes: the API, `discounts` on a new session, and
//! codes typed on the hosted page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::page;
use crate::harness::{self, Fields, Sim, ids, now};
use crate::schema::assert_valid;

async fn coupon(sim: &Sim, params: &[(&'static str, &str)]) -> Value {
    let form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let coupon = sim.post("/v1/coupons", &form).await.ok();
    assert_valid("coupon", &coupon);
    coupon
}

async fn promotion_code(sim: &Sim, coupon: &str, params: &[(&'static str, &str)]) -> Value {
    let mut form = vec![("coupon", coupon.to_owned())];
    form.extend(params.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let code = sim.post("/v1/promotion_codes", &form).await.ok();
    assert_valid("promotion_code", &code);
    code
}

#[tokio::test]
async fn coupons_and_promotion_codes_are_created_listed_and_retrieved() {
    let sim = harness::start().await;
    let summer = coupon(
        &sim,
        &[
            ("id", "SUMMER"),
            ("percent_off", "12.5"),
            ("name", "Summer sale"),
            ("max_redemptions", "3"),
        ],
    )
    .await;
    assert_eq!(summer["id"], "SUMMER");
    assert_eq!(summer["percent_off"], 12.5);
    assert_eq!(summer["amount_off"], Value::Null);
    assert_eq!(summer["duration"], "once");
    assert_eq!(summer["valid"], true);
    assert_eq!(summer["times_redeemed"], 0);
    let five = coupon(&sim, &[("amount_off", "500"), ("currency", "USD")]).await;
    assert_eq!(
        (&five["amount_off"], &five["currency"]),
        (&json!(500), &json!("usd"))
    );
    assert_eq!(five["id"].as_str().unwrap().len(), 8);
    let listed = sim.get("/v1/coupons", &[]).await.ok();
    assert_eq!(ids(&listed), [five["id"].as_str().unwrap(), "SUMMER"]);
    assert_eq!(sim.get("/v1/coupons/SUMMER", &[]).await.ok(), summer);

    let code = promotion_code(
        &sim,
        "SUMMER",
        &[
            ("code", "SUMMER25"),
            ("restrictions[minimum_amount]", "1000"),
            ("restrictions[minimum_amount_currency]", "usd"),
        ],
    )
    .await;
    assert!(code["id"].as_str().unwrap().starts_with("promo_"));
    assert_eq!(code["code"], "SUMMER25");
    assert_eq!(code["active"], true);
    assert_eq!(code["coupon"], summer);
    assert_eq!(code["restrictions"]["minimum_amount"], 1000);
    let inactive = promotion_code(&sim, "SUMMER", &[("code", "OLD"), ("active", "false")]).await;
    let generated = promotion_code(&sim, five["id"].as_str().unwrap(), &[]).await;
    assert_eq!(generated["code"].as_str().unwrap().len(), 8);
    let by_code = sim
        .get("/v1/promotion_codes", &[("code", "summer25")])
        .await
        .ok();
    assert_eq!(ids(&by_code), [code["id"].as_str().unwrap()]);
    let active = sim
        .get("/v1/promotion_codes", &[("active", "false")])
        .await
        .ok();
    assert_eq!(ids(&active), [inactive["id"].as_str().unwrap()]);
    let of_coupon = sim
        .get("/v1/promotion_codes", &[("coupon", "SUMMER")])
        .await
        .ok();
    assert_eq!(of_coupon["data"].as_array().unwrap().len(), 2);
    let id = code["id"].as_str().unwrap();
    assert_eq!(
        sim.get(&format!("/v1/promotion_codes/{id}"), &[])
            .await
            .ok(),
        code
    );
    let types = sim.event_types().await;
    assert_eq!(types.iter().filter(|t| *t == "coupon.created").count(), 2);
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "promotion_code.created")
            .count(),
        3
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_coupons_and_codes_get_stripes_errors() {
    let sim = harness::start().await;
    coupon(&sim, &[("id", "TAKEN"), ("percent_off", "10")]).await;
    let past = (now() - 10).to_string();
    let cases: [(Fields<'_>, &str, &str); 6] = [
        (
            &[
                ("percent_off", "10"),
                ("amount_off", "100"),
                ("currency", "usd"),
            ],
            "percent_off",
            "",
        ),
        (&[], "percent_off", ""),
        (&[("amount_off", "100")], "currency", "parameter_missing"),
        (&[("percent_off", "150")], "percent_off", ""),
        (
            &[("id", "TAKEN"), ("percent_off", "5")],
            "id",
            "resource_already_exists",
        ),
        (
            &[("percent_off", "5"), ("redeem_by", &past)],
            "redeem_by",
            "",
        ),
    ];
    for (params, param, code) in cases {
        let form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let err = sim.post("/v1/coupons", &form).await.error(400);
        assert_eq!(err["param"], param, "{params:?}: {err:#}");
        if !code.is_empty() {
            assert_eq!(err["code"], code);
        }
    }
    let err = sim
        .post("/v1/promotion_codes", &[("coupon", "NOPE".into())])
        .await
        .error(400);
    assert_eq!(err["code"], "resource_missing");
    assert_eq!(err["message"], "No such coupon: 'NOPE'");
    promotion_code(&sim, "TAKEN", &[("code", "HELLO")]).await;
    let err = sim
        .post(
            "/v1/promotion_codes",
            &[("coupon", "TAKEN".into()), ("code", "hello".into())],
        )
        .await
        .error(400);
    assert_eq!(err["param"], "code");
    let err = sim
        .post(
            "/v1/promotion_codes",
            &[("coupon", "TAKEN".into()), ("code", "HI THERE".into())],
        )
        .await
        .error(400);
    assert_eq!(err["param"], "code");
    sim.get("/v1/coupons/NOPE", &[]).await.error(404);
    sim.get("/v1/promotion_codes/promo_nope", &[])
        .await
        .error(404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_discount_given_at_creation_comes_off_the_items() {
    let sim = harness::start().await;
    coupon(
        &sim,
        &[("id", "FIVE"), ("amount_off", "500"), ("currency", "usd")],
    )
    .await;
    coupon(
        &sim,
        &[("id", "EURO"), ("amount_off", "500"), ("currency", "eur")],
    )
    .await;
    let session = sim
        .create_session(&[("discounts[0][coupon]", "FIVE")])
        .await;
    assert_eq!(
        session["discounts"],
        json!([{ "coupon": "FIVE", "promotion_code": null }])
    );
    assert_eq!(session["total_details"]["amount_discount"], 500);
    assert_eq!(session["amount_subtotal"], 2500);
    assert_eq!(session["amount_total"], 2000);
    let id = session["id"].as_str().unwrap();
    let expanded = sim
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]", "total_details.breakdown")],
        )
        .await
        .ok();
    assert_valid("checkout.session", &expanded);
    let discount = &expanded["total_details"]["breakdown"]["discounts"][0];
    assert_eq!(discount["amount"], 500);
    assert_eq!(discount["discount"]["coupon"]["id"], "FIVE");
    assert_eq!(discount["discount"]["checkout_session"], id);
    assert!(page(&sim, &session).await.contains("FIVE ($5.00 off)"));

    for (params, param) in [
        (
            vec![("discounts[0][coupon]", "EURO")],
            "discounts[0][coupon]",
        ),
        (
            vec![("discounts[0][coupon]", "NOPE")],
            "discounts[0][coupon]",
        ),
        (
            vec![("discounts[0][promotion_code]", "promo_nope")],
            "discounts[0][promotion_code]",
        ),
        (
            vec![
                ("discounts[0][coupon]", "FIVE"),
                ("allow_promotion_codes", "true"),
            ],
            "discounts",
        ),
        (
            vec![
                ("discounts[0][coupon]", "FIVE"),
                ("discounts[1][coupon]", "FIVE"),
            ],
            "discounts",
        ),
    ] {
        let mut form = harness::session_params();
        form.extend(params.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let err = sim.post("/v1/checkout/sessions", &form).await.error(400);
        assert_eq!(err["param"], param, "{params:?}: {err:#}");
    }
    // The coupon counts as redeemed once the session is paid.
    assert_eq!(
        sim.pay(&session, "4242424242424242").await.status(),
        StatusCode::SEE_OTHER
    );
    let paid = sim.session(id).await;
    assert_eq!(paid["amount_total"], 2000);
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
    assert_eq!(intent["amount"], 2000);
    assert_eq!(
        sim.get("/v1/coupons/FIVE", &[]).await.ok()["times_redeemed"],
        1
    );
    sim.shutdown().await;
}

/// Submits the page with a code: `update` only applies it, anything else pays.
async fn with_code(sim: &Sim, session: &Value, code: &str, step: &str) -> (StatusCode, String) {
    let response = sim
        .pay_form(
            session,
            &[
                ("card_number", "4242424242424242"),
                ("promotion_code", code),
                ("step", step),
            ],
        )
        .await;
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn customers_apply_promotion_codes_on_the_page() {
    let sim = harness::start().await;
    coupon(
        &sim,
        &[("id", "TWENTY"), ("percent_off", "20"), ("name", "Twenty")],
    )
    .await;
    let code = promotion_code(
        &sim,
        "TWENTY",
        &[("code", "SAVE20"), ("max_redemptions", "1")],
    )
    .await;
    let session = sim
        .create_session(&[("allow_promotion_codes", "true")])
        .await;
    assert_eq!(session["allow_promotion_codes"], true);
    let html = page(&sim, &session).await;
    assert!(html.contains(r#"<label for="promotion_code">Promotion code</label>"#));
    assert!(html.contains(r#"<button type="submit" name="step" value="update""#));

    let (status, html) = with_code(&sim, &session, "save20", "update").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Applied: SAVE20 (20% off)"), "{html}");
    assert!(html.contains("<span>Discount: SAVE20 (20% off)</span><span>-$5.00</span>"));
    assert!(html.contains("Pay <span class=\"total\">$20.00</span>"));
    assert_eq!(
        sim.session(session["id"].as_str().unwrap()).await["status"],
        "open"
    );

    let (status, _) = with_code(&sim, &session, "save20", "pay").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let paid = sim.session(session["id"].as_str().unwrap()).await;
    assert_valid("checkout.session", &paid);
    assert_eq!(
        paid["discounts"],
        json!([{ "coupon": "TWENTY", "promotion_code": code["id"] }])
    );
    assert_eq!(paid["total_details"]["amount_discount"], 500);
    assert_eq!(paid["amount_total"], 2000);
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
    assert_eq!(items["data"][0]["amount_discount"], 500);
    assert_eq!(items["data"][0]["amount_total"], 2000);
    let id = code["id"].as_str().unwrap();
    let redeemed = sim
        .get(&format!("/v1/promotion_codes/{id}"), &[])
        .await
        .ok();
    assert_eq!(redeemed["times_redeemed"], 1);
    assert_eq!(redeemed["coupon"]["times_redeemed"], 1);

    // Every way a code can be refused, with a clear message and nothing charged.
    promotion_code(&sim, "TWENTY", &[("code", "PAUSED"), ("active", "false")]).await;
    let soon = (now() + 60).to_string();
    promotion_code(&sim, "TWENTY", &[("code", "BRIEF"), ("expires_at", &soon)]).await;
    promotion_code(
        &sim,
        "TWENTY",
        &[
            ("code", "BIGSPEND"),
            ("restrictions[minimum_amount]", "10000"),
            ("restrictions[minimum_amount_currency]", "usd"),
        ],
    )
    .await;
    sim.admin("advance_clock", json!({ "seconds": 61 })).await;
    let next = sim
        .create_session(&[("allow_promotion_codes", "true")])
        .await;
    for (code, message) in [
        ("SAVE20", "This code has reached its redemption limit."),
        ("NOSUCH", "This code is invalid."),
        ("PAUSED", "This code is no longer active."),
        ("BRIEF", "This code has expired."),
        ("BIGSPEND", "This code requires a minimum order of $100.00."),
    ] {
        for step in ["update", "pay"] {
            let (status, html) = with_code(&sim, &next, code, step).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{code} {step}");
            assert!(
                html.contains(&format!(r#"id="payment-error">{message}"#)),
                "{code}: {html}"
            );
            assert!(html.contains("Pay <span class=\"total\">$25.00</span>"));
        }
    }
    assert_eq!(
        sim.session(next["id"].as_str().unwrap()).await["status"],
        "open"
    );
    sim.shutdown().await;
}
