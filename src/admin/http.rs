//! What every back-office page shares: its layout (who is signed in, the
//! sections, the open issues' count, the test-mode banner), the one-line
//! notices shown after a change, links that keep a list's filters, and its
//! error pages.

use actix_web::{HttpRequest, web};
use askama::Template;

use super::auth::domain::StaffSession;
use super::orders::store as order_store;
use crate::state::AppState;
use crate::web::{AppError, ErrorWords, assets};

/// The back office's sections, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Orders,
    Products,
    Attention,
    Emails,
    Settings,
    Audit,
    SignIn,
    /// A page of no section: an error.
    Other,
}

/// What the back office's layout needs on every page.
pub struct AdminLayout {
    /// The signed-in staff member's email; `None` on the sign-in page.
    pub staff_email: Option<String>,
    pub csrf_token: String,
    pub section: Section,
    /// Orders that need a person.
    pub attention: i64,
    pub test_mode: bool,
    /// What the last change did, from the redirect's `notice`.
    pub notice: Option<&'static str>,
}

impl AdminLayout {
    pub async fn new(
        state: &AppState,
        staff: &StaffSession,
        section: Section,
        req: &HttpRequest,
    ) -> Result<AdminLayout, AppError> {
        let attention = order_store::open_issue_count(&mut *state.db.get().await?).await?;
        Ok(AdminLayout {
            staff_email: Some(staff.email.clone()),
            csrf_token: staff.csrf_token.clone(),
            section,
            attention,
            test_mode: state.test_mode(),
            notice: notice(req),
        })
    }

    /// For the sign-in page: no one yet.
    pub fn signed_out(csrf_token: String, test_mode: bool, req: &HttpRequest) -> AdminLayout {
        AdminLayout {
            staff_email: None,
            csrf_token,
            section: Section::SignIn,
            attention: 0,
            test_mode,
            notice: notice(req),
        }
    }

    pub fn stylesheet(&self) -> &'static str {
        assets::stylesheet_url()
    }

    pub fn admin_stylesheet(&self) -> &'static str {
        assets::admin_stylesheet_url()
    }

    /// `aria-current="page"` for the current section's link.
    pub fn current(&self, section: Section) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// The messages a redirect after a change may ask for (`?notice=...`):
/// fixed texts, so that a link cannot make the page say anything else.
const NOTICES: &[(&str, &str)] = &[
    ("signed-out", "You have signed out."),
    ("product-created", "Product created."),
    ("product-saved", "Product saved."),
    ("stock-adjusted", "Stock adjusted."),
    (
        "product-archived",
        "Product archived: it is off sale and hidden from the shop.",
    ),
    (
        "product-kept",
        "Orders name this product, so it was archived instead of deleted.",
    ),
    ("product-restored", "Product restored as a draft."),
    ("product-deleted", "Product deleted."),
    ("refund-sent", "Refund sent to Stripe."),
    (
        "refund-done",
        "That refund was already made: nothing more was refunded.",
    ),
    ("shipped", "Order marked as shipped."),
    ("issue-resolved", "Issue marked as resolved."),
    ("email-queued", "The email will be sent again in a moment."),
    (
        "settings-saved",
        "Settings saved: the next checkout follows them.",
    ),
    ("rate-created", "Shipping rate added."),
    ("rate-saved", "Shipping rate saved."),
];

fn notice(req: &HttpRequest) -> Option<&'static str> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).ok()?;
    let code = pairs.iter().find(|(key, _)| key == "notice")?.1.as_str();
    NOTICES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, text)| *text)
}

/// `path` with the query `pairs` (empty values left out), for links that
/// keep a list's filters.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(&kept).unwrap_or_default()
        )
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    layout: AdminLayout,
    error: ErrorWords,
}

/// A back-office page's error in the back office's look, with its
/// navigation (the shop's error page would drop the staff member into the
/// shop); `None` when even that cannot be shown (the database is down).
pub async fn error_page(
    req: &HttpRequest,
    staff: &StaffSession,
    error: &AppError,
) -> Option<String> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let layout = AdminLayout::new(state, staff, Section::Other, req)
        .await
        .ok()?;
    ErrorPage {
        layout,
        error: error.words(),
    }
    .render()
    .ok()
}
