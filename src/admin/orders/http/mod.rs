//! The order pages of the back office: the list (filters, pages, totals
//! per currency), its CSV export, and the order page.

mod actions;

pub use actions::{attention, refund, resolve_issue, ship};

/// For templates: how an issue reads, and its details.
pub fn issue_label_of(issue: &IssueRow) -> &'static str {
    actions::issue_label(issue)
}

pub fn issue_details_of(issue: &IssueRow) -> Vec<(String, String)> {
    actions::issue_details(issue)
}

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::domain::{
    CurrencyTotals, Fulfilment, ItemLine, OrderFilter, OrderRow, REFUND_REASONS, RefundLine,
    STATUSES, Shipment, TimelineEntry, source_label,
};
use super::store::IssueRow;
use super::{export, refunds, store};
use crate::admin::auth::domain::StaffSession;
use crate::admin::auth::sign_in::random_token;
use crate::admin::http::{AdminLayout, Section, link};
use crate::admin::products::store::Page;
use crate::ids::OrderNumber;
use crate::ledger::domain::refundable;
use crate::mail::domain::OutboxEntry;
use crate::mail::store as outbox;
use crate::money::Money;
use crate::orders::domain::{CheckoutSummary, Order, OrderStatus};
use crate::orders::http::{order_status_label, status_label};
use crate::orders::store as orders;
use crate::state::AppState;
use crate::web::AppError;

const PAGE_SIZE: i64 = 50;

/// The list's filters as the query string has them.
#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    fulfilment: String,
    after: Option<i64>,
    before: Option<i64>,
}

impl ListQuery {
    /// The filter, or what is wrong with it.
    fn filter(&self) -> Result<OrderFilter, String> {
        let date = |raw: &str, which: &str| match raw.trim() {
            "" => Ok(None),
            raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("The {which} date should look like 2026-12-31.")),
        };
        let status = match self.status.as_str() {
            "" => None,
            raw => Some(
                OrderStatus::parse(raw).map_err(|_| "Choose a status from the list.".to_owned())?,
            ),
        };
        let filter = OrderFilter {
            status,
            from: date(&self.from, "from")?,
            to: date(&self.to, "to")?,
            search: Some(self.q.trim().chars().take(100).collect::<String>())
                .filter(|q| !q.is_empty()),
            fulfilment: Fulfilment::parse(&self.fulfilment),
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err("The from date is after the to date.".into());
        }
        Ok(filter)
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("status", self.status.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("q", self.q.clone()),
            ("fulfilment", self.fulfilment.clone()),
        ]
    }

    fn link(&self, path: &str, extra: Option<(&'static str, String)>) -> String {
        let mut pairs = self.pairs();
        pairs.extend(extra);
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        link(path, &borrowed)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/orders/index.html")]
pub struct OrderListPage {
    layout: AdminLayout,
    query: ListQuery,
    error: Option<String>,
    orders: Vec<OrderRow>,
    totals: Vec<CurrencyTotals>,
    newer: Option<String>,
    older: Option<String>,
    export: String,
}

impl OrderListPage {
    fn statuses(&self) -> [OrderStatus; 7] {
        STATUSES
    }

    fn status_selected(&self, status: &OrderStatus) -> bool {
        self.query.status == status.as_str()
    }
}

/// `GET /admin/orders`.
pub async fn index(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<actix_web::CustomizeResponder<OrderListPage>, AppError> {
    use actix_web::Responder;
    let query = query.into_inner();
    let layout = AdminLayout::new(&state, &staff, Section::Orders, &req).await?;
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(message) => {
            let page = OrderListPage {
                layout,
                export: String::new(),
                query,
                error: Some(message),
                orders: Vec::new(),
                totals: Vec::new(),
                newer: None,
                older: None,
            };
            return Ok(page
                .customize()
                .with_status(actix_web::http::StatusCode::BAD_REQUEST));
        }
    };
    let page = match (query.after, query.before) {
        (Some(after), _) => Page::After(after),
        (None, Some(before)) => Page::Before(before),
        _ => Page::First,
    };
    let mut conn = state.db.get().await?;
    let mut orders = store::list(&mut conn, &filter, page, PAGE_SIZE).await?;
    let totals = store::totals(&mut conn, &filter).await?;
    let more = orders.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    if more {
        match page {
            Page::Before(_) => drop(orders.remove(0)),
            _ => drop(orders.pop()),
        }
    }
    let has_older = more || matches!(page, Page::Before(_));
    let has_newer = match page {
        Page::First => false,
        Page::After(_) => true,
        Page::Before(_) => more,
    };
    let older = has_older
        .then(|| {
            orders
                .last()
                .map(|o| query.link("/admin/orders", Some(("after", o.id.to_string()))))
        })
        .flatten();
    let newer = has_newer
        .then(|| {
            orders
                .first()
                .map(|o| query.link("/admin/orders", Some(("before", o.id.to_string()))))
        })
        .flatten();
    Ok(OrderListPage {
        layout,
        export: query.link("/admin/orders/export.csv", None),
        query,
        error: None,
        orders,
        totals,
        newer,
        older,
    }
    .customize())
}

/// `GET /admin/orders/export.csv`: the filtered list, streamed.
pub async fn export_csv(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filter().map_err(AppError::BadRequest)?;
    let name = format!("orders-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(export::csv(state.db.clone(), filter)))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/orders/show.html")]
pub struct OrderPage {
    pub(super) layout: AdminLayout,
    pub(super) order: Order,
    pub(super) items: Vec<ItemLine>,
    pub(super) refunds: Vec<RefundLine>,
    pub(super) shipment: Option<Shipment>,
    /// Stripe's lines, the address and the shipping option.
    pub(super) summary: CheckoutSummary,
    /// The emails about the order, oldest first, each with its number.
    pub(super) emails: Vec<(OutboxEntry, Option<String>)>,
    pub(super) timeline: Vec<TimelineEntry>,
    pub(super) issues: Vec<IssueRow>,
    /// What is left to refund.
    pub(super) left: Money,
    /// The refund form: its key (a new refund per page load), what was
    /// typed, and what went wrong.
    pub(super) refund_key: String,
    pub(super) amount: String,
    pub(super) reason: String,
    pub(super) note: String,
    pub(super) restock: Vec<(i64, String)>,
    pub(super) refund_error: Option<String>,
    pub(super) carrier: String,
    pub(super) tracking_url: String,
    pub(super) ship_error: Option<String>,
}

impl OrderPage {
    fn status_label(&self) -> &'static str {
        order_status_label(&self.order.status, self.order.payment_processing())
    }

    /// The emails' rows are all this order's, and "Send again" comes back here.
    fn back_to_order(&self) -> bool {
        true
    }

    fn order_link(&self, _number: &Option<String>) -> Option<(String, String)> {
        None
    }

    fn reasons(&self) -> [(&'static str, &'static str); 3] {
        REFUND_REASONS
    }

    /// Stripe's dashboard page of the payment: only for real money.
    fn stripe_link(&self) -> Option<String> {
        let payment = self.order.stripe_payment_intent_id.as_deref()?;
        self.order
            .livemode
            .then(|| format!("https://dashboard.stripe.com/payments/{payment}"))
    }

    fn restock_value(&self, item_id: &i64) -> String {
        self.restock
            .iter()
            .find(|(id, _)| id == item_id)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "0".into())
    }

    fn can_ship(&self) -> bool {
        self.shipment.is_none()
            && matches!(
                self.order.status,
                OrderStatus::Paid | OrderStatus::PartiallyRefunded
            )
    }

    /// Loads the order's page, with empty forms.
    pub(super) async fn load(
        state: &AppState,
        staff: &StaffSession,
        req: &HttpRequest,
        number: &str,
    ) -> Result<OrderPage, AppError> {
        let number = OrderNumber::parse(number).ok_or_else(order_not_found)?;
        let mut conn = state.db.get().await?;
        let order = store::find_by_number(&mut conn, &number)
            .await?
            .ok_or_else(order_not_found)?;
        let items = store::items(&mut conn, &order).await?;
        let refunds = refunds::lines(&mut conn, order.id, order.currency()).await?;
        let shipment = store::shipment(&mut conn, order.id).await?;
        let issues = store::issues(&mut conn, Some(order.id), 20).await?;
        let events = store::events(&mut conn, order.id).await?;
        let summary = orders::checkout_summary(&mut conn, &order).await?;
        let emails = outbox::for_order(&mut conn, order.id)
            .await?
            .into_iter()
            .map(|message| (message, Some(order.number.clone())))
            .collect();
        drop(conn);
        let held: i64 = refunds
            .iter()
            .filter(|r| r.status.holds_money())
            .map(|r| r.amount.minor())
            .sum();
        let left = if order.is_paid() {
            refundable(order.total(), order.refunded().minor(), held)
        } else {
            Money::zero(order.currency())
        };
        let timeline = timeline(&events, &refunds, &issues);
        Ok(OrderPage {
            layout: AdminLayout::new(state, staff, Section::Orders, req).await?,
            amount: left.decimal(),
            order,
            items,
            refunds,
            shipment,
            summary,
            emails,
            timeline,
            issues,
            left,
            refund_key: random_token(),
            reason: String::new(),
            note: String::new(),
            restock: Vec::new(),
            refund_error: None,
            carrier: String::new(),
            tracking_url: String::new(),
            ship_error: None,
        })
    }
}

/// Everything that happened to the order, oldest first.
fn timeline(
    events: &[(
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        Option<String>,
    )],
    refunds: &[RefundLine],
    issues: &[IssueRow],
) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = events
        .iter()
        .map(|(kind, source, at, staff)| TimelineEntry {
            at: *at,
            what: match kind.as_str() {
                "created" => "Order placed".to_owned(),
                "paid" => "Paid".to_owned(),
                "refunded" => "Refund reported by Stripe".to_owned(),
                "shipped" => "Shipped".to_owned(),
                other => status_label(&OrderStatus::parse(other).unwrap_or(OrderStatus::Pending))
                    .to_owned(),
            },
            by: source_label(source, staff.as_deref()),
        })
        .collect();
    for refund in refunds {
        entries.push(TimelineEntry {
            at: refund.created_at,
            what: format!(
                "Refund of {} ({})",
                refund.amount,
                refund.status.label().to_lowercase()
            ),
            by: refund.asked_by.clone(),
        });
    }
    for issue in issues {
        entries.push(TimelineEntry {
            at: issue.created_at,
            what: format!("Needs attention: {}", actions::issue_label(issue)),
            by: "Stripe's report".to_owned(),
        });
        if let (Some(at), Some(by)) = (issue.resolved_at, &issue.resolved_by) {
            entries.push(TimelineEntry {
                at,
                what: "Issue resolved".to_owned(),
                by: by.clone(),
            });
        }
    }
    entries.sort_by_key(|entry| entry.at);
    entries
}

pub(super) fn order_not_found() -> AppError {
    AppError::NotFound("We couldn't find that order.".into())
}

/// `GET /admin/orders/{number}`.
pub async fn show(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<OrderPage, AppError> {
    OrderPage::load(&state, &staff, &req, &number).await
}
