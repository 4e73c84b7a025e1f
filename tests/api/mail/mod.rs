//! Order emails through the real stack: orders paid and refunded over the
//! simulator, the outbox in PostgreSQL, the sender of each node, and an
//! SMTP server the test starts (`crate::smtp`) with scripted answers.

mod delivery;
mod notices;
mod orders_link;
mod sent_files;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use storefront::db::schema::{mail_outbox, orders};
use uuid::Uuid;

use crate::helpers::{CARD_OK, STRIPE_KEY, TestApp, pay, spawn_app_with, spawn_with_vars};
use crate::smtp::SmtpServer;

pub const FROM: &str = "Storefront <orders@shop.example>";

/// A shop sending its mail to `smtp`, trying a message again a tenth of a
/// second after a temporary failure (then doubling), with `extra` settings.
pub async fn shop_sending_to(smtp: &SmtpServer, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![
        ("SMTP_URL", url.as_str()),
        ("MAIL_FROM", FROM),
        ("MAIL_RETRY_MS", "100"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// Another node of `app`'s shop: its database, Stripe and mail server.
pub async fn another_node(app: &TestApp, smtp: &SmtpServer) -> TestApp {
    let vars = [
        ("DATABASE_URL", app.db_url.expose().to_owned()),
        ("SMTP_URL", smtp.url()),
        ("MAIL_FROM", FROM.to_owned()),
        ("STRIPE_SECRET_KEY", STRIPE_KEY.to_owned()),
        ("STRIPE_API_BASE", app.sim_url.clone()),
        (
            "STRIPE_WEBHOOK_SECRET",
            app.webhook_secret.expose().to_owned(),
        ),
    ];
    spawn_with_vars(
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
    .await
}

/// An order as the tests look at it.
#[derive(Debug, Clone, Queryable)]
pub struct PaidOrder {
    pub id: i64,
    pub token: String,
    pub number: String,
}

impl PaidOrder {
    /// Its number as shoppers read it: `K7M2-9QXD`.
    pub fn display_number(&self) -> String {
        format!("{}-{}", &self.number[..4], &self.number[4..])
    }
}

/// The app's own shopper buys `quantity` of `slug` and pays with the good
/// card (as `shopper@example.com`); returns the order once it is paid.
pub async fn buy(app: &TestApp, slug: &str, quantity: &str) -> PaidOrder {
    app.add_to_cart(slug, quantity).await;
    let payment_url = app.checkout().await;
    pay(&payment_url, CARD_OK).await;
    app.eventually("the order is paid", || async {
        app.orders()
            .await
            .last()
            .is_some_and(|o| o.status == "paid")
    })
    .await;
    let id = app.orders().await.last().unwrap().id;
    order(app, id).await
}

pub async fn order(app: &TestApp, id: i64) -> PaidOrder {
    orders::table
        .find(id)
        .select((orders::id, orders::token, orders::number))
        .first(&mut app.db().await)
        .await
        .unwrap()
}

/// A message in the outbox, as the tests look at it.
#[derive(Debug, Clone, Queryable)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub order_id: Option<i64>,
    pub recipient: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub message_id: Uuid,
    pub resend_of: Option<i64>,
}

/// Every message in the outbox, oldest first.
pub async fn outbox(app: &TestApp) -> Vec<OutboxRow> {
    mail_outbox::table
        .order_by(mail_outbox::id)
        .select((
            mail_outbox::id,
            mail_outbox::kind,
            mail_outbox::order_id,
            mail_outbox::recipient,
            mail_outbox::status,
            mail_outbox::attempts,
            mail_outbox::last_error,
            mail_outbox::message_id,
            mail_outbox::resend_of,
        ))
        .load(&mut app.db().await)
        .await
        .unwrap()
}

/// Waits until `count` messages are in the outbox and none is pending
/// (each was sent, given up or skipped); returns them.
pub async fn settled_outbox(app: &TestApp, count: usize) -> Vec<OutboxRow> {
    app.eventually(&format!("{count} messages settled"), || async {
        let rows = outbox(app).await;
        rows.len() >= count && rows.iter().all(|row| row.status != "pending")
    })
    .await;
    outbox(app).await
}
