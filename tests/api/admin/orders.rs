//! Orders in the back office: refunds through Stripe (once per form, never
//! more than is left, racing their own webhooks and a second staff
//! member), items back to stock, shipping shown on the receipt, the CSV
//! export, and the Attention view.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use storefront::db::schema::{orders, refunds};
use storefront::orders::domain::IssueKind;

use super::{Staff, paid_order};
use crate::helpers::{TestApp, form_value, spawn_app, texts};

/// The refund form's fields as the order page gives them, with `amount`.
async fn refund_form(staff: &Staff, number: &str) -> (String, String) {
    let (status, page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert_eq!(status, StatusCode::OK);
    (
        form_value(&page, "refund_key").expect("a refund form"),
        form_value(&page, "csrf_token").unwrap(),
    )
}

async fn send_refund(
    staff: &Staff,
    number: &str,
    key: &str,
    csrf: &str,
    amount: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields = vec![
        ("amount", amount),
        ("refund_key", key),
        ("csrf_token", csrf),
        ("reason", "requested_by_customer"),
    ];
    fields.extend_from_slice(extra);
    staff
        .client
        .post(staff.url(&format!("/admin/orders/{number}/refunds")))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

async fn refunded(app: &TestApp, order_id: i64) -> i64 {
    orders::table
        .find(order_id)
        .select(orders::amount_refunded_minor)
        .first(&mut app.db().await)
        .await
        .unwrap()
}

/// The refunds Stripe made, from its `refund.created` events.
async fn stripe_refunds(app: &TestApp) -> Vec<serde_json::Value> {
    app.stripe_get("/v1/events?type=refund.created&limit=100")
        .await["data"]
        .as_array()
        .map(|events| events.iter().map(|e| e["data"]["object"].clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_partial_refund_is_made_once_returns_items_and_shows_on_the_receipt() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (order_id, number) = paid_order(&app, "aurora-ceramic-mug", "3").await;
    assert_eq!(app.stock("aurora-ceramic-mug").await, Some(37));
    let (key, csrf) = refund_form(&staff, &number).await;
    let item: i64 = storefront::db::schema::order_items::table
        .filter(storefront::db::schema::order_items::order_id.eq(order_id))
        .select(storefront::db::schema::order_items::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let restock = format!("restock_{item}");
    // Too much (more than the $77.00 charged: $72.00 of mugs and $5.00 of
    // shipping), too precise, too many back to stock: refused, nothing done.
    for (amount, extra, status) in [
        ("77.01", vec![], StatusCode::CONFLICT),
        ("10.001", vec![], StatusCode::BAD_REQUEST),
        (
            "10.00",
            vec![(restock.as_str(), "4")],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = send_refund(&staff, &number, &key, &csrf, amount, &extra).await;
        assert_eq!(response.status(), status, "{amount}");
        assert!(!texts(&response.text().await.unwrap(), "#refund-error").is_empty());
    }
    assert!(stripe_refunds(&app).await.is_empty());
    // A refund of one mug, returned to stock; the same form sent twice (a
    // double click) refunds once.
    let first = send_refund(
        &staff,
        &number,
        &key,
        &csrf,
        "24.00",
        &[(restock.as_str(), "1")],
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = send_refund(
        &staff,
        &number,
        &key,
        &csrf,
        "24.00",
        &[(restock.as_str(), "1")],
    )
    .await;
    assert_eq!(
        second.headers()["location"],
        format!("/admin/orders/{number}?notice=refund-done").as_str()
    );
    app.eventually("charge.refunded reached the order", || async {
        refunded(&app, order_id).await == 2400
    })
    .await;
    let at_stripe = stripe_refunds(&app).await;
    assert_eq!(at_stripe.len(), 1);
    assert_eq!(at_stripe[0]["amount"], 2400);
    assert_eq!(
        app.stock("aurora-ceramic-mug").await,
        Some(38),
        "one mug back in stock"
    );
    app.eventually("the refund's status is Stripe's", || async {
        refunds::table
            .select(refunds::status)
            .first::<String>(&mut app.db().await)
            .await
            .unwrap()
            == "succeeded"
    })
    .await;
    let status: String = orders::table
        .find(order_id)
        .select(orders::status)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(status, "partially_refunded");
    // The receipt shows it; the order page shows what is left.
    let token: String = orders::table
        .find(order_id)
        .select(orders::token)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let (_, receipt) = app.get_page(&format!("/orders/{token}")).await;
    assert!(
        texts(&receipt, ".receipt-refunds li")[0].contains("$24.00"),
        "{receipt}"
    );
    let (_, page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert_eq!(form_value(&page, "amount").as_deref(), Some("53.00"));
}

#[tokio::test]
async fn two_staff_members_refunding_at_once_never_refund_more_than_was_paid() {
    let app = spawn_app().await;
    let alice = Staff::signed_in(&app, "alice@example.com").await;
    let bob = Staff::signed_in(&app, "bob@example.com").await;
    let (order_id, number) = paid_order(&app, "aurora-ceramic-mug", "2").await;
    let (alice_key, alice_csrf) = refund_form(&alice, &number).await;
    let (bob_key, bob_csrf) = refund_form(&bob, &number).await;
    // Each asks for 30 of the 53 dollars charged (two mugs and $5.00 of
    // shipping), at the same moment.
    let (a, b) = tokio::join!(
        send_refund(&alice, &number, &alice_key, &alice_csrf, "30.00", &[]),
        send_refund(&bob, &number, &bob_key, &bob_csrf, "30.00", &[]),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    app.eventually("the refund reached the order", || async {
        refunded(&app, order_id).await == 3000
    })
    .await;
    assert_eq!(stripe_refunds(&app).await.len(), 1);
    // The rest, exactly, is still refundable; a cent more is not.
    let (key, csrf) = refund_form(&bob, &number).await;
    assert_eq!(
        send_refund(&bob, &number, &key, &csrf, "23.01", &[])
            .await
            .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        send_refund(&bob, &number, &key, &csrf, "23.00", &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    app.eventually("fully refunded", || async {
        refunded(&app, order_id).await == 5300
    })
    .await;
    let status: String = orders::table
        .find(order_id)
        .select(orders::status)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(status, "refunded");
    let amounts: Vec<i64> = stripe_refunds(&app)
        .await
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts.iter().sum::<i64>(), 5300);
}

#[tokio::test]
async fn shipping_is_recorded_once_and_shown_on_the_receipt() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (order_id, number) = paid_order(&app, "field-notes-journal", "1").await;
    let path = format!("/admin/orders/{number}/shipment");
    let response = staff
        .post(
            &path,
            &[
                ("carrier", "Parcelco"),
                ("tracking_url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(texts(&response.text().await.unwrap(), "#ship-error")[0].contains("https://"));
    let response = staff
        .post(
            &path,
            &[
                ("carrier", "Parcelco"),
                ("tracking_url", "https://track.example/P123"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.post(&path, &[]).await.status(), StatusCode::SEE_OTHER);
    let history = app.order_history(order_id).await;
    assert_eq!(
        history.iter().filter(|(kind, _)| kind == "shipped").count(),
        1
    );
    let token: String = orders::table
        .find(order_id)
        .select(orders::token)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let (_, receipt) = app.get_page(&format!("/orders/{token}")).await;
    let note = texts(&receipt, ".shipped-note");
    assert!(
        note[0].contains("Parcelco") && receipt.contains("https://track.example/P123"),
        "{note:?}"
    );
    let (_, list) = staff.page("/admin/orders?fulfilment=unshipped").await;
    assert!(!list.contains(&number));
}

#[tokio::test]
async fn the_order_list_filters_totals_and_exports_csv() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (_, first) = paid_order(&app, "aurora-ceramic-mug", "1").await;
    let (_, second) = paid_order(&app, "field-notes-journal", "2").await;
    let (status, page) = staff.page("/admin/orders?status=paid").await;
    assert_eq!(status, StatusCode::OK);
    let rows = texts(&page, ".admin-table tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(rows[0].contains(&second), "newest first: {rows:?}");
    assert!(
        // $24.00 and $29.00 of goods, each with $5.00 of shipping.
        texts(&page, ".totals li")[0].contains("$63.00"),
        "{:?}",
        texts(&page, ".totals li")
    );
    let (_, page) = staff
        .page(&format!("/admin/orders?q={}", first.to_lowercase()))
        .await;
    assert_eq!(texts(&page, ".admin-table tbody tr").len(), 1);
    let (status, page) = staff.page("/admin/orders?from=2026-13-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(texts(&page, "#filter-error")[0].contains("2026-12-31"));
    let csv = staff.get("/admin/orders/export.csv?status=paid").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("order_number,created_at"));
    assert!(
        lines[1].starts_with(&second) && lines[1].contains(",34.00,0.00,"),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn orders_that_need_a_person_are_listed_and_resolved() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (order_id, number) = paid_order(&app, "aurora-ceramic-mug", "1").await;
    storefront::orders::store::record_issue(
        &mut app.db().await,
        order_id,
        IssueKind::AmountMismatch,
        &json!({"expected_minor": 2400, "paid_minor": 100}),
    )
    .await
    .unwrap();
    let (_, page) = staff.page("/admin/attention").await;
    let issues = texts(&page, ".issue h2");
    assert_eq!(issues.len(), 1);
    assert!(issues[0].contains(&number) && issues[0].contains("different amount"));
    assert!(page.contains("paid minor"));
    assert_eq!(texts(&page, ".count-badge"), ["1"]);
    let id: i64 = storefront::db::schema::order_issues::table
        .select(storefront::db::schema::order_issues::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let response = staff
        .post(&format!("/admin/attention/{id}/resolve"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, page) = staff.page("/admin/attention").await;
    assert!(texts(&page, ".issue h2").is_empty());
    let (_, audit) = staff.page("/admin/audit").await;
    assert!(audit.contains("order.issue_resolved"));
}

#[tokio::test]
async fn a_refund_that_fails_later_needs_a_person_once() {
    use storefront::db::schema::order_issues;
    use storefront::stripe::webhook::sign;

    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (order_id, number) = paid_order(&app, "aurora-ceramic-mug", "1").await;
    let (key, csrf) = refund_form(&staff, &number).await;
    assert_eq!(
        send_refund(&staff, &number, &key, &csrf, "5.00", &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (id, stripe_id): (i64, Option<String>) = refunds::table
        .select((refunds::id, refunds::stripe_refund_id))
        .first(&mut app.db().await)
        .await
        .unwrap();
    let stripe_id = stripe_id.expect("Stripe's refund id");
    let payment_intent: String = orders::table
        .find(order_id)
        .select(orders::stripe_payment_intent_id.assume_not_null())
        .first(&mut app.db().await)
        .await
        .unwrap();
    let refunded = || async {
        orders::table
            .find(order_id)
            .select((orders::status, orders::amount_refunded_minor))
            .first::<(String, i64)>(&mut app.db().await)
            .await
            .unwrap()
    };
    app.eventually("charge.refunded reached the order", || async {
        refunded().await == ("partially_refunded".to_owned(), 500)
    })
    .await;
    // Days later the card turns out closed: Stripe sends refund.failed
    // (twice: deliveries are at least once) and charge.refund.updated.
    let refund = json!({
        "id": stripe_id, "object": "refund", "amount": 500, "currency": "usd", "status": "failed",
        "failure_reason": "expired_or_canceled_card", "payment_intent": payment_intent,
        "metadata": {"storefront_refund_id": id.to_string()},
    });
    for (event_id, kind) in [
        ("evt_fail_1", "refund.failed"),
        ("evt_fail_1", "refund.failed"),
        ("evt_fail_2", "charge.refund.updated"),
    ] {
        let body =
            json!({"id": event_id, "object": "event", "type": kind, "data": {"object": refund}})
                .to_string();
        let signature = sign(
            body.as_bytes(),
            &app.webhook_secret,
            chrono::Utc::now().timestamp(),
        );
        let response = crate::checkout::post_webhook(&app, &body, Some(signature)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let status: String = refunds::table
        .find(id)
        .select(refunds::status)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(status, "failed");
    // Stripe took the money back off the charge's refunded total: so does
    // the order, once, however often the failure is told.
    assert_eq!(refunded().await, ("paid".to_owned(), 0));
    let issues: Vec<String> = order_issues::table
        .filter(order_issues::order_id.eq(order_id))
        .select(order_issues::kind)
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(issues, ["refund_failed"]);
    let (_, page) = staff.page("/admin/attention").await;
    let listed = texts(&page, ".issue h2");
    assert!(
        listed.len() == 1 && listed[0].contains("A refund failed") && listed[0].contains(&number),
        "{listed:?}"
    );
    assert!(page.contains("expired_or_canceled_card"));
    // The order page shows it failed.
    let (_, order_page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert!(texts(&order_page, ".refund-line")[0].contains("Failed"));
}
