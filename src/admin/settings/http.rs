//! The back office's Settings page: where goods ship, tax, promotion codes
//! and the shipping rates, each with its form; a refused change shows the
//! page again with the message by its field.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;

use super::domain::{Fields, RateInput, SettingsInput};
use super::edit::{self, SettingsError};
use crate::admin::auth::domain::StaffSession;
use crate::admin::http::{AdminLayout, Section};
use crate::money::Currency;
use crate::shop_settings::domain::{Country, InvalidSetting, ShippingRate};
use crate::shop_settings::store;
use crate::state::AppState;
use crate::web::{AppError, CsrfForm, FormResponse, rerender, see_other};

/// A form's message for one of its fields, if it has one.
fn message_for<'a>(error: &'a Option<InvalidSetting>, field: &str) -> Option<&'a str> {
    error
        .as_ref()
        .filter(|error| error.field == field)
        .map(|error| error.message.as_str())
}

/// A rate's form on the page: the rate as stored (`None` for the new
/// rate's form), the form as typed, and its message.
pub struct RateForm {
    rate: Option<ShippingRate>,
    input: RateInput,
    error: Option<InvalidSetting>,
}

impl RateForm {
    fn new(rate: Option<ShippingRate>, input: RateInput) -> RateForm {
        RateForm {
            rate,
            input,
            error: None,
        }
    }

    fn error(&self, field: &str) -> Option<&str> {
        message_for(&self.error, field)
    }

    fn is_rate(&self, id: i64) -> bool {
        self.rate.as_ref().is_some_and(|rate| rate.id == id)
    }

    /// The form's id, and its fields' prefix: `rate-7`, `rate-new`.
    fn prefix(&self) -> String {
        match &self.rate {
            Some(rate) => format!("rate-{}", rate.id),
            None => "rate-new".to_owned(),
        }
    }

    /// Where it posts; the fragment brings a refused form back into view.
    fn action(&self) -> String {
        let path = match &self.rate {
            Some(rate) => format!("/admin/settings/shipping-rates/{}", rate.id),
            None => "/admin/settings/shipping-rates".to_owned(),
        };
        format!("{path}#{}", self.prefix())
    }

    /// "$5.00, free over $75.00", per currency, in the form's order.
    fn prices(&self) -> Vec<String> {
        let Some(rate) = &self.rate else {
            return Vec::new();
        };
        Currency::ALL
            .into_iter()
            .filter_map(|currency| rate.price_in(currency))
            .map(|price| match price.free_over() {
                Some(threshold) => format!("{}, free over {threshold}", price.amount()),
                None => price.amount().to_string(),
            })
            .collect()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage {
    layout: AdminLayout,
    settings: SettingsInput,
    settings_error: Option<InvalidSetting>,
    rates: Vec<RateForm>,
    new_rate: RateForm,
    /// Every country Stripe ships to, by name.
    countries: Vec<Country>,
    /// The countries goods ship to as saved, by name (not as typed).
    ships_to: String,
}

impl SettingsPage {
    async fn load(
        state: &AppState,
        staff: &StaffSession,
        req: &HttpRequest,
    ) -> Result<SettingsPage, AppError> {
        let (settings, rates) = {
            let mut conn = state.db.get().await?;
            (
                store::settings(&mut conn).await?,
                store::shipping_rates(&mut conn).await?,
            )
        };
        let next_position = rates.iter().map(|rate| rate.position).max().unwrap_or(0) + 1;
        let countries = Country::by_name();
        let ships_to: Vec<&str> = countries
            .iter()
            .filter(|country| settings.shipping_countries().contains(country))
            .map(|country| country.name())
            .collect();
        Ok(SettingsPage {
            layout: AdminLayout::new(state, staff, Section::Settings, req).await?,
            settings: SettingsInput::of(&settings),
            settings_error: None,
            rates: rates
                .into_iter()
                .map(|rate| RateForm::new(Some(rate.clone()), RateInput::of(&rate)))
                .collect(),
            new_rate: RateForm::new(None, RateInput::blank(next_position)),
            ships_to: ships_to.join(", "),
            countries,
        })
    }

    fn settings_error(&self, field: &str) -> Option<&str> {
        message_for(&self.settings_error, field)
    }

    /// Every rate's form, then the new rate's.
    fn forms(&self) -> impl Iterator<Item = &RateForm> {
        self.rates.iter().chain(std::iter::once(&self.new_rate))
    }
}

fn rate_not_found() -> AppError {
    AppError::NotFound("That shipping rate doesn't exist.".into())
}

/// The page again with a form's message: a 400, as every refused admin
/// form answers.
fn refused(page: SettingsPage) -> FormResponse<SettingsPage> {
    rerender(page, StatusCode::BAD_REQUEST)
}

/// `GET /admin/settings`.
pub async fn show(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
) -> Result<SettingsPage, AppError> {
    SettingsPage::load(&state, &staff, &req).await
}

/// `POST /admin/settings`: the countries, tax and promotion codes.
pub async fn save(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> FormResponse<SettingsPage> {
    let input = SettingsInput::from_fields(&Fields::new(pairs));
    match edit::save_settings(&state.db, &staff, &input).await {
        Ok(()) => see_other("/admin/settings?notice=settings-saved"),
        Err(SettingsError::Invalid(error)) => {
            let mut page = SettingsPage::load(&state, &staff, &req).await?;
            page.settings = input;
            page.settings_error = Some(error);
            refused(page)
        }
        Err(SettingsError::NotFound) => Err(rate_not_found()),
        Err(SettingsError::Database(error)) => Err(error.into()),
    }
}

/// `POST /admin/settings/shipping-rates`: a new rate.
pub async fn create_rate(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> FormResponse<SettingsPage> {
    let input = RateInput::from_fields(&Fields::new(pairs));
    match edit::create_rate(&state.db, &staff, &input).await {
        Ok(id) => see_other(format!("/admin/settings?notice=rate-created#rate-{id}")),
        Err(SettingsError::Invalid(error)) => {
            let mut page = SettingsPage::load(&state, &staff, &req).await?;
            page.new_rate.input = input;
            page.new_rate.error = Some(error);
            refused(page)
        }
        Err(SettingsError::NotFound) => Err(rate_not_found()),
        Err(SettingsError::Database(error)) => Err(error.into()),
    }
}

/// `POST /admin/settings/shipping-rates/{id}`: a rate replaced (its
/// active box unticked to stop offering it).
pub async fn update_rate(
    state: web::Data<AppState>,
    staff: StaffSession,
    req: HttpRequest,
    id: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> FormResponse<SettingsPage> {
    let id = id.into_inner();
    let input = RateInput::from_fields(&Fields::new(pairs));
    match edit::update_rate(&state.db, &staff, id, &input).await {
        Ok(()) => see_other(format!("/admin/settings?notice=rate-saved#rate-{id}")),
        Err(SettingsError::Invalid(error)) => {
            let mut page = SettingsPage::load(&state, &staff, &req).await?;
            let form = page
                .rates
                .iter_mut()
                .find(|form| form.is_rate(id))
                .ok_or_else(rate_not_found)?;
            form.input = input;
            form.error = Some(error);
            refused(page)
        }
        Err(SettingsError::NotFound) => Err(rate_not_found()),
        Err(SettingsError::Database(error)) => Err(error.into()),
    }
}
