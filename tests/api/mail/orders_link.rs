//! "Email me my orders": the same answer whether or not the address has
//! orders, a signed link that lists them on any device until it expires,
//! limits per client and per address on every node, and bad addresses
//! (header injection included) that change nothing and send nothing.

use actix_web::cookie::Key;
use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use storefront::db::schema::orders_link_requests;
use storefront::mail::domain::{EmailAddress, LinkKey};

use super::{another_node, buy, outbox, settled_outbox, shop_sending_to};
use crate::helpers::{Browser, TestApp, texts};
use crate::smtp::SmtpServer;

/// The session key the test harness gives every app.
const SESSION_KEY: &str = "test-session-key-";

fn link_key() -> LinkKey {
    LinkKey::derive(Key::derive_from(SESSION_KEY.repeat(5).as_bytes()).master())
}

async fn ask_for_link(browser: &Browser, email: &str) -> reqwest::Response {
    browser
        .post_form("/orders/email-link", &[("email", email)])
        .await
}

/// The link in a message to an address's orders.
fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.contains("/orders/by-email/"))
        .expect("a link to the orders")
        .to_owned()
}

async fn link_requests(app: &TestApp) -> i64 {
    orders_link_requests::table
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_answer_is_the_same_with_or_without_orders_and_the_link_lists_them_anywhere() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let first = buy(&app, "aurora-ceramic-mug", "1").await;
    let second = buy(&app, "canvas-tote-bag", "1").await;
    settled_outbox(&app, 2).await;
    let phone = Browser::at(&app.address);
    let stranger = Browser::at(&app.address);

    let with_orders = ask_for_link(&phone, "Shopper@Example.com").await;
    let without = ask_for_link(&stranger, "stranger@example.org").await;

    assert_eq!(with_orders.status(), StatusCode::SEE_OTHER);
    assert_eq!(without.status(), StatusCode::SEE_OTHER);
    assert_eq!(with_orders.headers()["location"], "/orders");
    assert_eq!(without.headers()["location"], "/orders");
    let rows = settled_outbox(&app, 4).await;
    let links: Vec<(&str, Option<&str>, &str)> = rows[2..]
        .iter()
        .map(|row| {
            (
                row.kind.as_str(),
                row.recipient.as_deref(),
                row.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            ("orders_link", Some("Shopper@Example.com"), "sent"),
            ("orders_link", Some("stranger@example.org"), "skipped"),
        ],
        "a message is queued either way; only the address with orders gets one"
    );
    // Both answers read the same, but for the address.
    let answer = texts(&phone.page("/orders").await, ".flash");
    let strangers = texts(&stranger.page("/orders").await, ".flash");
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert!(
        answer[0].contains("a link to them is on its way"),
        "{answer:?}"
    );
    assert_eq!(
        answer[0].replace("Shopper@Example.com", "ADDRESS"),
        strangers[0].replace("stranger@example.org", "ADDRESS")
    );

    let received = smtp.wait_for(3).await;
    let email = &received[2];
    assert_eq!(email.to, ["Shopper@Example.com"]);
    assert_eq!(email.subject(), "Your Storefront orders");
    let link = link_in(&email.text());
    assert!(email.html().contains(&format!("href=\"{link}\"")));
    // Another device, never used to shop.
    let laptop = Browser::at(&app.address);
    let listed = laptop.client.get(&link).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let page = listed.text().await.unwrap();
    assert_eq!(
        texts(&page, ".orders-table tbody th"),
        [
            format!("Order {} Test", second.display_number()),
            format!("Order {} Test", first.display_number())
        ]
    );
    assert!(page.contains(&format!("href=\"/orders/{}\"", first.token)));
    assert!(page.contains("shopper@example.com"));
}

#[tokio::test]
async fn a_changed_or_expired_link_is_refused_with_a_way_to_ask_again() {
    let app = crate::helpers::spawn_app().await;
    let email = EmailAddress::parse("shopper@example.com").unwrap();
    let key = link_key();
    let working = key.sign(&email, chrono::Utc::now() + chrono::TimeDelta::hours(1));
    let expired = key.sign(&email, chrono::Utc::now() - chrono::TimeDelta::seconds(1));
    let other_key =
        LinkKey::derive(&[1; 64]).sign(&email, chrono::Utc::now() + chrono::TimeDelta::hours(1));
    let (expiry, rest) = working.as_str().split_once('.').unwrap();
    let extended = format!("{}.{rest}", expiry.parse::<i64>().unwrap() + 86_400);

    let (status, _) = app.get_page(&format!("/orders/by-email/{working}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = app.get_page(&format!("/orders/by-email/{expired}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        texts(&page, ".empty-state p"),
        [
            "This link has expired: links to your orders work for 24 hours.",
            "Ask for a new link"
        ]
    );
    for forged in [
        other_key.to_string(),
        extended,
        format!("{working}x"),
        "not-a-link".to_owned(),
        "1.2.3".to_owned(),
    ] {
        let (status, page) = app.get_page(&format!("/orders/by-email/{forged}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{forged}");
        assert_eq!(
            texts(&page, ".empty-state p")[0],
            "This link doesn't work: it may have been cut short or changed.",
            "{forged}"
        );
    }
}

#[tokio::test]
async fn requests_are_limited_per_address_and_per_client_on_every_node() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let other_node = another_node(&app, &smtp).await;
    let nodes = [Browser::at(&app.address), Browser::at(&other_node.address)];

    // Three links for one address, asked on either node; the fourth waits.
    for n in 0..3 {
        let answer = ask_for_link(&nodes[n % 2], "shopper@example.com").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    }
    let refused = ask_for_link(&nodes[1], "SHOPPER@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    let page = refused.text().await.unwrap();
    assert!(page.contains("Please try again in 60 minutes."), "{page}");
    assert!(page.contains("value=\"SHOPPER@example.com\""));

    // Ten for one client, whatever the addresses.
    for n in 3..10 {
        let answer = ask_for_link(&nodes[n % 2], &format!("someone{n}@example.com")).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "request {n}");
    }
    let refused = ask_for_link(&nodes[0], "someone-else@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(link_requests(&app).await, 10);
    assert_eq!(outbox(&app).await.len(), 10);
}

#[tokio::test]
async fn bad_addresses_and_header_injection_change_nothing_and_send_nothing() {
    let smtp = SmtpServer::start(&[]).await;
    let app = shop_sending_to(&smtp, &[]).await;
    let browser = app.new_browser();
    let too_long = format!("{}@example.com", "a".repeat(250));

    for (email, message) in [
        ("", "Please enter your email address."),
        ("   ", "Please enter your email address."),
        (
            "shopper",
            "Please enter an email address like name@example.com.",
        ),
        (
            "shopper@example.com\r\nBcc: victim@example.com",
            "Please enter an email address like name@example.com.",
        ),
        (
            "shopper@example.com\nBcc: victim@example.com",
            "Please enter an email address like name@example.com.",
        ),
        (
            "Victim <victim@example.com>",
            "Please enter an email address like name@example.com.",
        ),
        (
            "shopper@example.com, victim@example.com",
            "Please enter an email address like name@example.com.",
        ),
        (
            "\"Eve\r\nBcc: victim@example.com\" <eve@example.com>",
            "Please enter an email address like name@example.com.",
        ),
        (&too_long, "That email address is too long."),
    ] {
        let answer = ask_for_link(&browser, email).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{email:?}");
        let page = answer.text().await.unwrap();
        assert_eq!(texts(&page, "#email-error"), [message], "{email:?}");
        assert!(page.contains("aria-invalid=\"true\""));
    }
    // Without the form's token: refused before anything else.
    let forged = browser
        .client
        .post(app.url("/orders/email-link"))
        .form(&[("email", "shopper@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    assert!(outbox(&app).await.is_empty());
    assert_eq!(link_requests(&app).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(smtp.tries(), 0);
}

#[tokio::test]
async fn old_link_requests_and_link_messages_are_forgotten_when_a_node_starts() {
    let mut app = crate::helpers::spawn_app().await;
    let order = buy(&app, "canvas-tote-bag", "1").await;
    settled_outbox(&app, 1).await;
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO orders_link_requests (client, email, created_at) VALUES
                 ('127.0.0.1', 'old@example.com', now() - interval '25 hours'),
                 ('127.0.0.1', 'new@example.com', now() - interval '2 hours');
             INSERT INTO mail_outbox (kind, recipient, details, status, created_at, sent_at) VALUES
                 ('orders_link', 'old@example.com', '{{\"kind\": \"orders_link\", \"token\": \"t\"}}',
                  'skipped', now() - interval '9 days', NULL),
                 ('orders_link', 'new@example.com', '{{\"kind\": \"orders_link\", \"token\": \"t\"}}',
                  'sent', now() - interval '7 days', now() - interval '7 days');
             UPDATE mail_outbox SET created_at = now() - interval '90 days' WHERE order_id = {};",
            order.id
        ))
        .await
        .unwrap();

    // The purge runs when a node starts, then every hour.
    app.restart().await;

    app.eventually("the old link messages are forgotten", || async {
        outbox(&app).await.len() == 2
    })
    .await;
    let kept: Vec<(String, Option<String>)> = outbox(&app)
        .await
        .into_iter()
        .map(|row| (row.kind, row.recipient))
        .collect();
    assert_eq!(
        kept,
        [
            (
                "order_confirmation".to_owned(),
                Some("shopper@example.com".to_owned())
            ),
            ("orders_link".to_owned(), Some("new@example.com".to_owned())),
        ],
        "confirmations are kept"
    );
    let emails: Vec<String> = orders_link_requests::table
        .select(orders_link_requests::email)
        .load(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(emails, ["new@example.com"]);
}
