//! `GET /admin/audit`: the audit log, newest first, by staff member or subject.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::domain::{AuditEntry, AuditFilter};
use super::store;
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section, link};
use crate::state::AppState;
use crate::web::AppError;

const PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
pub struct AuditQuery {
    staff: Option<i64>,
    #[serde(default)]
    subject: String,
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    layout: AdminLayout,
    entries: Vec<AuditEntry>,
    filtered: bool,
    older: Option<String>,
}

impl AuditPage {
    /// Where an entry's subject is seen.
    fn subject_link(&self, entry: &AuditEntry) -> Option<String> {
        if entry.subject == crate::admin::settings::edit::SETTINGS_SUBJECT {
            return Some("/admin/settings".to_owned());
        }
        let (kind, id) = entry.subject.split_once(':')?;
        match kind {
            "shipping_rate" => Some(format!("/admin/settings#rate-{id}")),
            "product" => Some(format!("/admin/products/{id}")),
            "order" => Some(format!(
                "/admin/orders/{}",
                crate::ids::OrderNumber::display(id)
            )),
            _ => None,
        }
    }
}

pub async fn index(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    query: web::Query<AuditQuery>,
) -> Result<AuditPage, AppError> {
    let subject = query.subject.trim();
    let filter = AuditFilter {
        staff_id: query.staff,
        subject: (!subject.is_empty()).then(|| subject.to_owned()),
    };
    let mut entries = store::list(
        &mut *state.db.get().await?,
        &filter,
        query.before,
        PAGE_SIZE + 1,
    )
    .await?;
    let more = entries.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let staff_filter = query.staff.map(|id| id.to_string()).unwrap_or_default();
    let older = more
        .then(|| {
            entries.last().map(|last| {
                link(
                    "/admin/audit",
                    &[
                        ("staff", &staff_filter),
                        ("subject", subject),
                        ("before", &last.id.to_string()),
                    ],
                )
            })
        })
        .flatten();
    Ok(AuditPage {
        layout: AdminLayout::new(&state, &staff, Section::Audit, &req).await?,
        entries,
        filtered: filter.staff_id.is_some() || filter.subject.is_some(),
        older,
    })
}
