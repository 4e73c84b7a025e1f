//! What staff do on an order: refund (full or partial, items back to stock
//! or not), mark shipped; and the Attention view of orders that need a
//! person, where an issue is resolved.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{OrderPage, order_not_found};
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section};
use crate::admin::orders::domain::{
    REFUND_REASONS, ShipOutcome, parse_carrier, parse_tracking_url,
};
use crate::admin::orders::fulfilment;
use crate::admin::orders::refunding::{self, RefundError, RefundRequest, Refunded};
use crate::admin::orders::store::{self, IssueRow};
use crate::money::{Money, MoneyError};
use crate::orders::domain::IssueKind;
use crate::state::AppState;
use crate::web::{AppError, CsrfForm, FormResponse, rerender, see_other};

/// The refund form: `restock_<order item id>` fields give the units to
/// return to stock.
#[derive(Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    refund_key: String,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// `POST /admin/orders/{number}/refunds`.
pub async fn refund(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    number: web::Path<String>,
    CsrfForm(form): CsrfForm<RefundForm>,
) -> FormResponse<OrderPage> {
    let page = OrderPage::load(&state, &staff, &req, &number).await?;
    let again = |mut page: OrderPage, message: String, status: StatusCode| {
        page.refund_error = Some(message);
        page.amount = form.amount.clone();
        page.reason = form.reason.clone();
        page.note = form.note.clone();
        page.restock = page
            .items
            .iter()
            .map(|item| {
                (
                    item.id,
                    form.rest
                        .get(&format!("restock_{}", item.id))
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect();
        // The same key: sending the form again is the same refund.
        if form.refund_key.len() >= 16 {
            page.refund_key = form.refund_key.clone();
        }
        rerender(page, status)
    };
    let currency = page.order.currency();
    let amount = match Money::parse_decimal(&form.amount, currency) {
        Ok(amount) if amount.minor() > 0 => amount,
        Ok(_) => {
            return again(
                page,
                "Enter an amount above zero.".into(),
                StatusCode::BAD_REQUEST,
            );
        }
        Err(error @ MoneyError::TooPrecise { .. }) => {
            return again(page, format!("{error}."), StatusCode::BAD_REQUEST);
        }
        Err(_) => {
            return again(
                page,
                "Enter the amount to refund, like 12.50.".into(),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let reason = match form.reason.as_str() {
        "" => None,
        code => match REFUND_REASONS.iter().find(|(known, _)| *known == code) {
            Some((known, _)) => Some(*known),
            None => {
                return again(
                    page,
                    "Choose a reason from the list.".into(),
                    StatusCode::BAD_REQUEST,
                );
            }
        },
    };
    let note = form.note.trim();
    if note.chars().count() > 500 {
        return again(
            page,
            "Notes have at most 500 characters.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let mut restock = Vec::new();
    for item in &page.items {
        let raw = form
            .rest
            .get(&format!("restock_{}", item.id))
            .map(|v| v.trim())
            .unwrap_or("");
        match raw {
            "" | "0" => {}
            raw => match raw.parse::<i32>() {
                Ok(n) if n > 0 && n <= item.returnable() => restock.push((item.id, n)),
                _ => {
                    let message = format!(
                        "Return between 0 and {} of {} to stock.",
                        item.returnable(),
                        item.product_name
                    );
                    return again(page, message, StatusCode::BAD_REQUEST);
                }
            },
        }
    }
    if !(16..=64).contains(&form.refund_key.len()) {
        return again(
            page,
            "This form is incomplete: please reload the page.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let request = RefundRequest {
        amount,
        reason,
        note: (!note.is_empty()).then(|| note.to_owned()),
        restock,
        key: form.refund_key.clone(),
    };
    let order_path = format!("/admin/orders/{}", page.order.display_number());
    match refunding::refund(&state.stripe, &state.db, &staff, page.order.id, &request).await {
        Ok(Refunded::Sent) => see_other(format!("{order_path}?notice=refund-sent")),
        Ok(Refunded::AlreadyDone) => see_other(format!("{order_path}?notice=refund-done")),
        Err(RefundError::TooMuch { left }) => {
            let page = OrderPage::load(&state, &staff, &req, &number).await?;
            let message = if left.minor() == 0 {
                "Nothing is left to refund on this order.".to_owned()
            } else {
                format!("Only {left} is left to refund on this order.")
            };
            again(page, message, StatusCode::CONFLICT)
        }
        Err(RefundError::NotRefundable) => {
            again(page, "This order has no payment to refund.".into(), StatusCode::CONFLICT)
        }
        Err(RefundError::KeyReused) => again(
            page,
            "This form was already used for a different refund: please check the refunds above, then try again.".into(),
            StatusCode::CONFLICT,
        ),
        Err(RefundError::Refused(message)) => {
            let page = OrderPage::load(&state, &staff, &req, &number).await?;
            again(page, format!("Stripe refused the refund, so nothing was refunded: {message}"), StatusCode::BAD_GATEWAY)
        }
        Err(RefundError::Unreachable) => {
            let page = OrderPage::load(&state, &staff, &req, &number).await?;
            again(
                page,
                "Stripe could not be reached. The refund is saved: send this form again in a moment (it will not refund twice).".into(),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
        Err(RefundError::Database(error)) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub struct ShipForm {
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_url: String,
}

/// `POST /admin/orders/{number}/shipment`: mark shipped.
pub async fn ship(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    number: web::Path<String>,
    CsrfForm(form): CsrfForm<ShipForm>,
) -> FormResponse<OrderPage> {
    let mut page = OrderPage::load(&state, &staff, &req, &number).await?;
    let checked = parse_carrier(&form.carrier)
        .and_then(|carrier| parse_tracking_url(&form.tracking_url).map(|url| (carrier, url)));
    let (carrier, tracking_url) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            page.ship_error = Some(message);
            page.carrier = form.carrier;
            page.tracking_url = form.tracking_url;
            return rerender(page, StatusCode::BAD_REQUEST);
        }
    };
    let order_path = format!("/admin/orders/{}", page.order.display_number());
    if page.shipment.is_some() {
        return see_other(format!("{order_path}?notice=shipped"));
    }
    let outcome = fulfilment::ship(
        &state.db,
        &staff,
        &page.order,
        carrier.as_deref(),
        tracking_url.as_deref(),
    )
    .await?;
    if outcome == ShipOutcome::NotShippable {
        page.ship_error =
            Some("Only paid orders that are not fully refunded can be shipped.".into());
        return rerender(page, StatusCode::CONFLICT);
    }
    see_other(format!("{order_path}?notice=shipped"))
}

/// How an issue reads.
pub fn issue_label(issue: &IssueRow) -> &'static str {
    match issue.kind() {
        Some(IssueKind::AmountMismatch) => "Paid a different amount or currency than the order's",
        Some(IssueKind::TotalsMismatch) => "Stripe's total does not add up from its lines",
        Some(IssueKind::PaidAfterClose) => {
            "Paid after the order had closed (its stock was released)"
        }
        Some(IssueKind::RefundFailed) => "A refund failed at Stripe",
        None => "Unknown issue",
    }
}

/// What Stripe reported, as lines of "key: value".
pub fn issue_details(issue: &IssueRow) -> Vec<(String, String)> {
    match &issue.details {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.replace('_', " "), value)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/attention.html")]
pub struct AttentionPage {
    layout: AdminLayout,
    issues: Vec<IssueRow>,
}

/// `GET /admin/attention`: open issues, newest first.
pub async fn attention(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
) -> Result<AttentionPage, AppError> {
    let issues = store::issues(&mut *state.db.get().await?, None, 200).await?;
    Ok(AttentionPage {
        layout: AdminLayout::new(&state, &staff, Section::Attention, &req).await?,
        issues,
    })
}

/// `POST /admin/attention/{id}/resolve`.
pub async fn resolve_issue(
    state: web::Data<AppState>,
    staff: StaffSession,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<AttentionPage> {
    if fulfilment::resolve_issue(&state.db, &staff, *id).await? {
        see_other("/admin/attention?notice=issue-resolved")
    } else {
        Err(order_not_found())
    }
}
