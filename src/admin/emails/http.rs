//! `GET /admin/emails`: the shop's emails, newest first, by status; and
//! `POST /admin/emails/{id}/send-again`.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::send_again;
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section, link};
use crate::ids::OrderNumber;
use crate::mail::domain::{MailStatus, MessageKind, OutboxEntry};
use crate::mail::store as outbox;
use crate::state::AppState;
use crate::web::{AppError, CsrfForm, FormResponse, see_other};

const PAGE_SIZE: i64 = 50;

/// The statuses the list filters by, in the order of its tabs.
const STATUSES: [MailStatus; 4] = [
    MailStatus::Pending,
    MailStatus::Sent,
    MailStatus::Failed,
    MailStatus::Skipped,
];

/// How a kind of message reads.
pub fn kind_label(kind: &MessageKind) -> &'static str {
    match kind {
        MessageKind::OrderConfirmation => "Order confirmation",
        MessageKind::RefundNotice => "Refund notice",
        MessageKind::ShipmentNotice => "Shipment notice",
        MessageKind::OrdersLink => "Link to their orders",
    }
}

/// How a message's status reads.
pub fn status_label(status: &MailStatus) -> &'static str {
    match status {
        MailStatus::Pending => "Waiting to send",
        MailStatus::Sent => "Sent",
        MailStatus::Failed => "Failed",
        MailStatus::Skipped => "Not sent",
    }
}

#[derive(Deserialize)]
pub struct EmailsQuery {
    #[serde(default)]
    status: String,
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/emails/index.html")]
pub struct EmailsPage {
    layout: AdminLayout,
    status: Option<MailStatus>,
    messages: Vec<(OutboxEntry, Option<String>)>,
    older: Option<String>,
}

impl EmailsPage {
    fn tabs(&self) -> Vec<(&'static str, String, bool)> {
        let all = (
            "Everything",
            "/admin/emails".to_owned(),
            self.status.is_none(),
        );
        let by_status = STATUSES.iter().map(|status| {
            let url = link("/admin/emails", &[("status", status.as_str())]);
            (status_label(status), url, self.status == Some(*status))
        });
        std::iter::once(all).chain(by_status).collect()
    }

    fn order_link(&self, number: &Option<String>) -> Option<(String, String)> {
        let shown = OrderNumber::display(number.as_deref()?);
        Some((format!("/admin/orders/{shown}"), shown))
    }

    /// Rows here name their order, and "Send again" comes back to the list.
    fn back_to_order(&self) -> bool {
        false
    }
}

/// `GET /admin/emails`.
pub async fn index(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    query: web::Query<EmailsQuery>,
) -> Result<EmailsPage, AppError> {
    let status = match query.status.as_str() {
        "" => None,
        raw => Some(
            MailStatus::parse(raw)
                .map_err(|_| AppError::BadRequest("Choose a status from the tabs.".into()))?,
        ),
    };
    let mut conn = state.db.get().await?;
    let mut messages = outbox::list(&mut conn, status, query.before, PAGE_SIZE + 1).await?;
    drop(conn);
    let page_size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let more = messages.len() > page_size;
    messages.truncate(page_size);
    let older = messages.last().filter(|_| more).map(|(last, _)| {
        let status = status.map(MailStatus::as_str).unwrap_or_default();
        link(
            "/admin/emails",
            &[("status", status), ("before", &last.id.to_string())],
        )
    });
    Ok(EmailsPage {
        layout: AdminLayout::new(&state, &staff, Section::Emails, &req).await?,
        status,
        messages,
        older,
    })
}

#[derive(Deserialize)]
pub struct SendAgainForm {
    /// The order page the button was on, to go back to; the list otherwise.
    #[serde(default)]
    order: String,
}

/// `POST /admin/emails/{id}/send-again`: a new copy, to the same address.
pub async fn send_again(
    state: web::Data<AppState>,
    staff: StaffSession,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<SendAgainForm>,
) -> FormResponse<EmailsPage> {
    if send_again::send_again(&state.db, &staff, *id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound(
            "There is no such email to send again (a link to a shopper's orders is not sent \
             again: they can ask for a new one)."
                .into(),
        ));
    }
    // Back to the order page the button was on: a number we parse, never a
    // path we were given.
    match OrderNumber::parse(&form.order) {
        Some(number) => see_other(format!(
            "/admin/orders/{}?notice=email-queued#emails-title",
            OrderNumber::display(number.as_str())
        )),
        None => see_other("/admin/emails?notice=email-queued"),
    }
}
