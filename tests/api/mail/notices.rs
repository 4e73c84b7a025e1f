//! Refund and shipment notices, and recipients that cannot be sent to: a
//! notice per refund that changed the order (none for a redelivered or
//! out-of-date event), a shipment notice with its tracking link, and an
//! email address with a header smuggled in that is never sent to.

use diesel_async::AsyncConnection;
use reqwest::StatusCode;
use serde_json::json;
use storefront::mail::domain::{Message, Shipment};
use storefront::mail::store as outbox_store;
use storefront::stripe::webhook::sign;

use super::{buy, outbox, settled_outbox, shop_sending_to};
use crate::checkout::{post_webhook, unix_now};
use crate::helpers::{CARD_OK, STRIPE_KEY, TestApp, pay};
use crate::smtp::SmtpServer;

async fn refund(app: &TestApp, payment_intent: &str, amount: &str) {
    let refund = reqwest::Client::new()
        .post(format!("{}/v1/refunds", app.sim_url))
        .bearer_auth(STRIPE_KEY)
        .form(&[("payment_intent", payment_intent), ("amount", amount)])
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
}

/// Delivers `event` as Stripe would, signed; returns the app's answer.
async fn deliver(app: &TestApp, event: &serde_json::Value) -> StatusCode {
    let body = event.to_string();
    let signature = sign(body.as_bytes(), &app.webhook_secret, unix_now());
    post_webhook(app, &body, Some(signature)).await.status()
}

#[tokio::test]
async fn a_partial_then_a_full_refund_send_two_notices_and_a_replayed_event_none() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let order = buy(&app, "brass-bottle-opener", "2").await;
    let payment_intent = app.orders().await[0].payment_intent.clone().unwrap();

    refund(&app, &payment_intent, "1000").await;
    settled_outbox(&app, 2).await;
    // The rest of the $41.00 charged (two openers and $5.00 of shipping).
    refund(&app, &payment_intent, "3100").await;
    let rows = settled_outbox(&app, 3).await;

    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.kind.as_str(), row.status.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("order_confirmation", "sent"),
            ("refund_notice", "sent"),
            ("refund_notice", "sent")
        ]
    );
    let received = smtp.wait_for(3).await;
    let number = order.display_number();
    assert_eq!(
        received[1].subject(),
        format!("[Test] Refund of $10.00 for your Storefront order {number}")
    );
    assert_eq!(
        received[2].subject(),
        format!("[Test] Refund of $31.00 for your Storefront order {number}")
    );
    let text = received[2].text();
    for line in [
        "Refunded now: $31.00",
        "Refunded in all: $41.00",
        "Order total (USD): $41.00",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(received[1].html().contains("We've refunded $10.00</h1>"));
    assert!(rows.iter().all(|row| row.order_id == Some(order.id)));

    // Stripe delivers the first refund's event again, and an out-of-date
    // copy of it under a new id: the order does not change, and nobody is
    // told anything.
    let events = app.stripe_get("/v1/events?type=charge.refunded").await["data"]
        .as_array()
        .unwrap()
        .clone();
    let first = events
        .iter()
        .find(|event| event["data"]["object"]["amount_refunded"] == 1000)
        .unwrap()
        .clone();
    assert_eq!(deliver(&app, &first).await, StatusCode::OK);
    let mut stale = first.clone();
    stale["id"] = json!("evt_stale_copy_of_the_first_refund");
    assert_eq!(deliver(&app, &stale).await, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(outbox(&app).await.len(), 3);
    assert_eq!(smtp.received().len(), 3);
}

#[tokio::test]
async fn a_shipment_notice_carries_the_carrier_and_a_web_tracking_link_only() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let order = buy(&app, "canvas-tote-bag", "1").await;
    settled_outbox(&app, 1).await;

    let shipments = [
        Shipment {
            carrier: Some("Parcelforce <Express>".into()),
            tracking_url: Some("https://track.example/AB123?x=1&y=2".into()),
        },
        Shipment {
            carrier: None,
            tracking_url: Some("javascript:alert(1)".into()),
        },
    ];
    let mut conn = app.db().await;
    conn.transaction(async |conn| {
        for shipment in shipments {
            let notice = Message::ShipmentNotice(shipment);
            outbox_store::enqueue(conn, Some(order.id), Some("shopper@example.com"), &notice)
                .await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await
    .unwrap();

    settled_outbox(&app, 3).await;
    let received = smtp.wait_for(3).await;
    let tracked = &received[1];
    assert_eq!(
        tracked.subject(),
        format!(
            "[Test] Your Storefront order {} is on its way",
            order.display_number()
        )
    );
    let text = tracked.text();
    assert!(
        text.contains("has shipped with Parcelforce <Express>."),
        "{text}"
    );
    assert!(
        text.contains("https://track.example/AB123?x=1&y=2"),
        "{text}"
    );
    assert!(text.contains("1 x Canvas Tote Bag"), "{text}");
    let html = tracked.html();
    assert!(html.contains("Parcelforce &#60;Express&#62;"), "{html}");
    assert!(html.contains("Track your parcel"), "{html}");
    assert!(!html.contains("<Express>"));
    let untracked = received[2].html();
    assert!(!untracked.contains("javascript:"), "{untracked}");
    assert!(!untracked.contains("Track your parcel"));
}

#[tokio::test]
async fn an_email_with_a_smuggled_header_is_recorded_and_never_sent_to() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    // Webhooks are lost; the test hands over Stripe's event, with an email
    // address carrying a Bcc header (the hosted page is not ours to trust).
    app.sim_faults(json!({"webhook_drop": true})).await;
    app.add_to_cart("merino-wool-beanie", "1").await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    let mut completed = app
        .stripe_get("/v1/events?type=checkout.session.completed")
        .await["data"][0]
        .clone();
    let smuggled = "shopper@example.com\r\nBcc: victim@example.com";
    completed["data"]["object"]["customer_details"]["email"] = json!(smuggled);
    completed["data"]["object"]["customer_email"] = json!(smuggled);

    assert_eq!(deliver(&app, &completed).await, StatusCode::OK);

    assert_eq!(app.orders().await[0].status, "paid", "the payment counts");
    let rows = settled_outbox(&app, 1).await;
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempts),
        ("skipped", 0),
        "{rows:?}"
    );
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("not a valid recipient"),
        "{rows:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(smtp.tries(), 0, "nothing was sent to anyone");
}

#[tokio::test]
async fn a_paid_order_without_an_email_sends_nothing_and_says_so() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    app.sim_faults(json!({"webhook_drop": true})).await;
    app.add_to_cart("merino-wool-beanie", "1").await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    let mut completed = app
        .stripe_get("/v1/events?type=checkout.session.completed")
        .await["data"][0]
        .clone();
    completed["data"]["object"]["customer_details"]["email"] = json!(null);
    completed["data"]["object"]["customer_email"] = json!(null);

    assert_eq!(deliver(&app, &completed).await, StatusCode::OK);

    let rows = settled_outbox(&app, 1).await;
    assert_eq!(
        (
            rows[0].status.as_str(),
            rows[0].recipient.as_deref(),
            rows[0].last_error.as_deref()
        ),
        ("skipped", None, Some("no email address"))
    );
    assert_eq!(smtp.tries(), 0);
}
