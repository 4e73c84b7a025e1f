//! `GET /admin`: the dashboard.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{Days, Utc};

use super::domain::{Bar, CHART_HEIGHT, CHART_WIDTH, Sales, bar_width, chart, sales_since};
use super::store;
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section};
use crate::admin::products::domain::AdminProduct;
use crate::money::Currency;
use crate::state::AppState;
use crate::web::AppError;

/// Days the chart and the longer totals cover.
const DAYS: u32 = 30;
/// At or below this many units, a product's stock counts as low.
const LOW_STOCK: i32 = 5;

#[derive(Template, WebTemplate)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    layout: AdminLayout,
    today: Vec<Sales>,
    month: Vec<Sales>,
    /// The chart of the currency with the most revenue over the period.
    chart_currency: Option<Currency>,
    bars: Vec<Bar>,
    bar_width: u32,
    low_stock: Vec<AdminProduct>,
    to_ship: i64,
}

impl DashboardPage {
    fn chart_width(&self) -> u32 {
        CHART_WIDTH
    }

    fn chart_height(&self) -> u32 {
        CHART_HEIGHT
    }
}

pub async fn show(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
) -> Result<DashboardPage, AppError> {
    let today = Utc::now().date_naive();
    let since = today
        .checked_sub_days(Days::new(u64::from(DAYS - 1)))
        .unwrap_or(today);
    let mut conn = state.db.get().await?;
    let days = store::daily_sales(&mut conn, since).await?;
    let low_stock = store::low_stock(&mut conn, LOW_STOCK, 10).await?;
    let to_ship = store::to_ship(&mut conn).await?;
    drop(conn);
    let month = sales_since(&days, since);
    let chart_currency = month.first().map(|s| s.currency);
    let bars = chart_currency.map_or_else(Vec::new, |currency| chart(&days, currency, today, DAYS));
    Ok(DashboardPage {
        layout: AdminLayout::new(&state, &staff, Section::Dashboard, &req).await?,
        today: sales_since(&days, today),
        month,
        chart_currency,
        bars,
        bar_width: bar_width(DAYS),
        low_stock,
        to_ship,
    })
}
