//! The shop's emails in the back office: shipping an order emails the
//! shopper once, the order page shows its emails and Stripe's lines, and
//! a failed email is listed and sent again (once per click, audited).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use storefront::db::schema::audit_log;

use super::{Staff, paid_order};
use crate::helpers::texts;
use crate::mail::{outbox, settled_outbox, shop_sending_to};
use crate::smtp::{Answer, SmtpServer};

#[tokio::test]
async fn shipping_an_order_emails_the_shopper_once_with_the_tracking_link() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (order_id, number) = paid_order(&app, "field-notes-journal", "1").await;
    settled_outbox(&app, 1).await;

    let path = format!("/admin/orders/{number}/shipment");
    let fields = [
        ("carrier", "Parcelco"),
        ("tracking_url", "https://track.example/P123"),
    ];
    // A double click: shipped once, one notice.
    let (first, second) = tokio::join!(staff.post(&path, &fields), staff.post(&path, &fields));
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);

    let rows = settled_outbox(&app, 2).await;
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.kind.as_str(), row.status.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("order_confirmation", "sent"), ("shipment_notice", "sent")]
    );
    assert!(rows.iter().all(|row| row.order_id == Some(order_id)));
    let notice = &smtp.wait_for(2).await[1];
    assert_eq!(
        notice.subject(),
        format!("[Test] Your Storefront order {number} is on its way")
    );
    let text = notice.text();
    for line in [
        "has shipped with Parcelco",
        "https://track.example/P123",
        "Sam Shopper",
        "1 Market St",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }

    // The order page: Stripe's lines, where it ships, and both emails.
    let (_, page) = staff.page(&format!("/admin/orders/{number}")).await;
    assert_eq!(
        texts(&page, "#line-subtotal td"),
        ["$14.50"],
        "the journal's price"
    );
    let shipping = texts(&page, "#line-shipping");
    assert!(
        shipping[0].contains("Standard") && shipping[0].contains("$5.00"),
        "{shipping:?}"
    );
    assert!(texts(&page, ".ship-to")[0].contains("1 Market St"));
    let emails = texts(&page, ".emails tbody tr");
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails[0].contains("Order confirmation") && emails[0].contains("Sent"));
    assert!(emails[1].contains("Shipment notice") && emails[1].contains("Sent"));
}

#[tokio::test]
async fn a_failed_email_is_listed_and_sent_again_once_per_click_with_an_audit_entry() {
    // The mail server refuses the first message for good, then takes them.
    let smtp = SmtpServer::start(&[Answer::Refuse]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let (_, number) = paid_order(&app, "field-notes-journal", "1").await;
    let failed = settled_outbox(&app, 1).await.remove(0);
    assert_eq!(failed.status, "failed");

    let (status, page) = staff.page("/admin/emails?status=failed").await;
    assert_eq!(status, StatusCode::OK);
    let rows = texts(&page, ".emails tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("Order confirmation") && rows[0].contains(&number),
        "{rows:?}"
    );
    assert!(
        !texts(&page, ".mail-error").is_empty(),
        "the reason is shown"
    );
    let (_, sent) = staff.page("/admin/emails?status=sent").await;
    assert!(texts(&sent, ".emails tbody tr").is_empty());
    let (status, _) = staff.page("/admin/emails?status=lost").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let path = format!("/admin/emails/{}/send-again", failed.id);
    // Without the form's token: refused, nothing queued.
    let forged = staff
        .client
        .post(staff.url(&path))
        .form(&[("order", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(outbox(&app).await.len(), 1);
    // An email that does not exist: 404.
    let missing = staff.post("/admin/emails/999999/send-again", &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // From the order page: back to it.
    let again = staff.post(&path, &[("order", &number)]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        again.headers()["location"],
        format!("/admin/orders/{number}?notice=email-queued#emails-title").as_str()
    );
    let rows = settled_outbox(&app, 2).await;
    assert_eq!(rows.len(), 2, "one click, one copy");
    assert_eq!(
        (rows[1].status.as_str(), rows[1].resend_of),
        ("sent", Some(failed.id))
    );
    assert_ne!(rows[1].message_id, failed.message_id);
    let delivered = smtp.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].subject().contains(&number));
    let audited: Vec<(String, String)> = audit_log::table
        .filter(audit_log::action.eq("email.sent_again"))
        .select((audit_log::actor, audit_log::subject))
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(
        audited,
        [(
            "alice@example.com".to_owned(),
            format!("email:{}", failed.id)
        )]
    );
    let (_, page) = staff.page("/admin/emails").await;
    let rows = texts(&page, ".emails tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(rows[0].contains("sent again") && rows[0].contains("Sent"));
}
