//! Confirmations over SMTP: one per paid order whatever mix of webhooks,
//! return pages and reconciler runs marks it paid; temporary failures (a
//! 4xx, a connection dropped mid-message) tried again, a refusal (5xx) and
//! too many failures given up visibly; senders on several nodes never send
//! one message twice.

use std::collections::HashSet;
use std::time::Duration;

use diesel_async::AsyncConnection;
use serde_json::json;
use storefront::mail::domain::{MailStatus, Message, MessageKind, Shipment};
use storefront::mail::store as outbox_store;

use super::{another_node, buy, outbox, settled_outbox, shop_sending_to};
use crate::helpers::{Browser, CARD_OK, pay};
use crate::smtp::{Answer, SmtpServer};

#[tokio::test]
async fn a_paid_order_gets_one_confirmation_with_its_items_totals_and_receipt_link() {
    let smtp = SmtpServer::start(&[]).await;
    // Every way an order becomes paid, at once: each webhook delivered
    // twice, the shopper's return page, and a reconciler looking every 0.2 s.
    let app = shop_sending_to(
        &smtp,
        &[
            ("RECONCILE_INTERVAL_MS", "200"),
            ("RECONCILE_AFTER_MS", "0"),
        ],
    )
    .await;
    app.sim_faults(json!({"webhook_duplicate": true})).await;
    app.add_to_cart("aurora-ceramic-mug", "2").await;
    app.add_to_cart("field-notes-journal", "1").await;
    let payment_url = app.checkout().await;
    let paid = pay(&payment_url, CARD_OK).await;
    let success = paid.headers()["location"].to_str().unwrap().to_owned();
    app.follow_success(&success).await;
    app.eventually("both copies of the paid event were delivered", || async {
        app.sim_deliveries()
            .await
            .iter()
            .filter(|d| d["event_type"] == "checkout.session.completed" && d["status"] == 200)
            .count()
            == 2
    })
    .await;

    let rows = settled_outbox(&app, 1).await;
    let received = smtp.wait_for(1).await;
    let order = super::order(&app, app.orders().await[0].id).await;

    assert_eq!(rows.len(), 1, "one message for one paid order: {rows:?}");
    assert_eq!(
        (
            rows[0].kind.as_str(),
            rows[0].status.as_str(),
            rows[0].attempts
        ),
        ("order_confirmation", "sent", 1)
    );
    assert_eq!(received.len(), 1);
    let email = &received[0];
    assert_eq!(email.to, ["shopper@example.com"]);
    assert_eq!(email.from, "orders@shop.example");
    assert_eq!(
        email.subject(),
        format!(
            "[Test] Your Storefront order {} is confirmed",
            order.display_number()
        )
    );
    assert_eq!(
        email.header("Message-ID"),
        Some(format!("<{}@shop.example>", rows[0].message_id.simple()))
    );
    assert!(email.header("Date").is_some());
    assert_eq!(
        email.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(email.header("From").unwrap().contains("Storefront"));
    let receipt_url = app.url(&format!("/orders/{}", order.token));
    let text = email.text();
    for line in [
        "2 x Aurora Ceramic Mug ($24.00 each): $48.00",
        "1 x Field Notes Journal ($14.50 each): $14.50",
        "Subtotal: $62.50",
        "Shipping (Standard, 3–5 business days): $5.00",
        "Amount paid (USD): $67.50",
        "Shipping to:",
        "Sam Shopper",
        "1 Market St",
        "San Francisco CA 94105",
        "Test order: paid in test mode, no real money moved.",
        receipt_url.as_str(),
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    let html = email.html();
    for part in [
        "<html lang=\"en\">",
        "<h1",
        "Thank you! Your order is confirmed.",
        "<th scope=\"col\"",
        "Aurora Ceramic Mug",
        "$62.50",
        "Shipping (Standard, 3–5 business days)",
        "$67.50",
        "Sam Shopper<br>1 Market St",
        &format!("href=\"{receipt_url}\""),
    ] {
        assert!(html.contains(part), "no {part:?} in\n{html}");
    }
    // The link opens the receipt, on any device.
    let receipt = Browser::at(&app.address)
        .page(&format!("/orders/{}", order.token))
        .await;
    assert!(receipt.contains(&order.display_number()));
    // Counted (the registry is the test process's: other tests count too).
    let sent = "storefront_mail_messages_total{kind=\"order_confirmation\",outcome=\"sent\"}";
    assert!(app.metric(sent).await >= Some(1.0));
    // Nothing more comes, however long we wait for the sender.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.tries(), 1);
}

#[tokio::test]
async fn a_try_later_and_a_dropped_connection_are_tried_again_until_the_server_takes_it() {
    let smtp = SmtpServer::start(&[Answer::TryLater, Answer::Drop]).await;
    let app = shop_sending_to(&smtp, &[("MAIL_MAX_ATTEMPTS", "5")]).await;

    buy(&app, "brass-bottle-opener", "1").await;

    let rows = settled_outbox(&app, 1).await;
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempts),
        ("sent", 3),
        "{rows:?}"
    );
    assert_eq!(rows[0].last_error, None);
    assert_eq!(smtp.tries(), 3, "451, dropped, then taken");
    let received = smtp.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert!(received[0].subject().contains("is confirmed"));
    let retried = "storefront_mail_messages_total{kind=\"order_confirmation\",outcome=\"retried\"}";
    assert!(app.metric(retried).await >= Some(2.0));
}

#[tokio::test]
async fn a_refusal_fails_at_once_and_stays_visible() {
    let smtp = SmtpServer::start(&[Answer::Refuse]).await;
    let app = shop_sending_to(&smtp, &[]).await;

    buy(&app, "brass-bottle-opener", "1").await;

    let rows = settled_outbox(&app, 1).await;
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("failed", 1));
    let error = rows[0].last_error.clone().unwrap();
    assert!(error.contains("550"), "{error}");
    // Not tried again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.tries(), 1);
    assert!(smtp.received().is_empty());
    let failed = "storefront_mail_messages_total{kind=\"order_confirmation\",outcome=\"failed\"}";
    assert!(app.metric(failed).await >= Some(1.0));
}

#[tokio::test]
async fn too_many_temporary_failures_give_up_visibly() {
    let smtp = SmtpServer::start(&[Answer::TryLater; 3]).await;
    let app = shop_sending_to(&smtp, &[("MAIL_MAX_ATTEMPTS", "3")]).await;

    buy(&app, "brass-bottle-opener", "1").await;

    let rows = settled_outbox(&app, 1).await;
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("failed", 3));
    let error = rows[0].last_error.clone().unwrap();
    assert!(
        error.starts_with("gave up after 3 tries") && error.contains("451"),
        "{error}"
    );
    assert_eq!(smtp.tries(), 3);
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn senders_on_three_nodes_send_each_message_once() {
    let smtp = SmtpServer::start(&[]).await;
    let first = shop_sending_to(&smtp, &[]).await;
    let order = buy(&first, "brass-bottle-opener", "1").await;
    settled_outbox(&first, 1).await;
    // Two more nodes on the same database and mail server.
    let _second = another_node(&first, &smtp).await;
    let _third = another_node(&first, &smtp).await;

    // Sixty notices at once, for the three senders to race over.
    let mut conn = first.db().await;
    conn.transaction(async |conn| {
        for n in 0..60 {
            let shipment = Shipment {
                carrier: Some(format!("Carrier {n}")),
                tracking_url: None,
            };
            let notice = Message::ShipmentNotice(shipment);
            outbox_store::enqueue(conn, Some(order.id), Some("shopper@example.com"), &notice)
                .await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await
    .unwrap();

    let rows = settled_outbox(&first, 61).await;
    let received = smtp.wait_for(61).await;
    assert!(
        rows.iter()
            .all(|row| row.status == "sent" && row.attempts == 1),
        "{rows:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received_ids: Vec<String> = smtp
        .received()
        .iter()
        .map(|email| email.header("Message-ID").unwrap())
        .collect();
    let distinct: HashSet<&String> = received_ids.iter().collect();
    assert_eq!(received.len(), 61);
    assert_eq!(received_ids.len(), 61, "no message sent twice");
    assert_eq!(distinct.len(), 61);
    assert_eq!(smtp.tries(), 61);
}

#[tokio::test]
async fn send_again_makes_a_new_message_with_a_message_id_of_its_own() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    buy(&app, "brass-bottle-opener", "1").await;
    let original = settled_outbox(&app, 1).await.remove(0);

    let resent = outbox_store::send_again(&mut app.db().await, original.id)
        .await
        .unwrap()
        .expect("a confirmation can be sent again");

    let rows = settled_outbox(&app, 2).await;
    let copy = rows.iter().find(|row| row.id == resent).unwrap();
    assert_eq!(
        (copy.kind.as_str(), copy.status.as_str(), copy.resend_of),
        ("order_confirmation", "sent", Some(original.id))
    );
    assert_ne!(copy.message_id, original.message_id);
    let received = smtp.wait_for(2).await;
    assert_eq!(received[0].subject(), received[1].subject());
    assert_ne!(
        received[0].header("Message-ID"),
        received[1].header("Message-ID")
    );
    assert_eq!(
        outbox_store::send_again(&mut app.db().await, 999_999)
            .await
            .unwrap(),
        None
    );
    assert_eq!(outbox(&app).await.len(), 2);

    // What the back office lists: the newest first, a page at a time, and
    // an order's messages.
    let mut conn = app.db().await;
    let newest = outbox_store::list(&mut conn, None, None, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    let (message, number) = &newest[0];
    assert_eq!(
        (message.id, message.kind, message.status),
        (resent, MessageKind::OrderConfirmation, MailStatus::Sent)
    );
    assert!(number.is_some(), "listed with its order's number");
    let next = outbox_store::list(&mut conn, None, Some(resent), 10)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|(m, _)| m.id).collect::<Vec<_>>(),
        [original.id]
    );
    let failed = outbox_store::list(&mut conn, Some(MailStatus::Failed), None, 10)
        .await
        .unwrap();
    assert!(failed.is_empty());
    let order_id = original.order_id.unwrap();
    let of_order = outbox_store::for_order(&mut conn, order_id).await.unwrap();
    assert_eq!(of_order.len(), 2);
    assert_eq!(of_order[1].resend_of, Some(original.id));
    assert!(
        of_order
            .iter()
            .all(|m| m.sent_at.is_some() && m.last_error.is_none())
    );
}
