//! What the payment page shows: the order summary with its totals for the
//! customer's current choices, and the form's sections for this session.

use askama::Template;
use askama_web::WebTemplate;

use super::form::{PayForm, Problem};
use crate::banks::BankDebit;
use crate::countries;
use crate::model::{Choices, Session};
use crate::money;
use crate::pricing;

pub struct ItemView {
    pub name: String,
    pub description: Option<String>,
    pub quantity: i64,
    pub unit: String,
    pub amount: String,
}

/// A line of the summary between the items and the total.
pub struct Row {
    pub label: String,
    pub amount: String,
}

pub struct CountryView {
    pub code: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

/// The address section: the shipping address, or (when only tax needs a
/// location) the billing country, region and postal code.
pub struct AddressView {
    pub legend: &'static str,
    /// Field name prefix: `shipping` or `billing`.
    pub prefix: &'static str,
    /// Name, street and city too (a shipping address).
    pub full: bool,
    pub countries: Vec<CountryView>,
    pub state: String,
    pub postal_code: String,
    /// Suggestions for the region field (US states, Canadian provinces).
    pub regions: Vec<(&'static str, &'static str)>,
}

pub struct RateView {
    pub id: String,
    pub label: String,
    pub amount: String,
    pub estimate: Option<String>,
    pub checked: bool,
}

pub struct MethodView {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pay.html")]
pub struct PayPage {
    pub action: String,
    pub cancel_url: Option<String>,
    pub items: Vec<ItemView>,
    pub rows: Vec<Row>,
    pub total: String,
    pub total_minor: i64,
    pub form: PayForm,
    pub error: Option<String>,
    /// The field the error is about (its `id`), or empty.
    pub error_field: &'static str,
    /// A message that is not an error: the total changed before paying.
    pub notice: Option<String>,
    pub address: Option<AddressView>,
    pub rates: Vec<RateView>,
    pub promotion_codes: bool,
    /// The applied discount, as "SUMMER (20% off)".
    pub discount: Option<String>,
    /// Radio buttons, when there is more than one method.
    pub methods: Vec<MethodView>,
    pub us_bank_account: bool,
    pub sepa_debit: bool,
}

impl PayPage {
    /// The page for `form` as submitted (or empty), showing the totals of `choices`.
    pub fn new(session: &Session, form: &PayForm, choices: &Choices) -> Self {
        let currency = session.currency.as_str();
        let quote = session.quote(choices);
        let items = session
            .line_items
            .iter()
            .map(|item| ItemView {
                name: item.name.clone(),
                description: item.description.clone(),
                quantity: item.quantity,
                unit: money::format(item.unit_amount, currency),
                amount: money::format(item.amount, currency),
            })
            .collect();
        let mut rows = Vec::new();
        let plain = quote.discount == 0 && quote.shipping.is_none() && !session.automatic_tax;
        if !plain {
            rows.push(Row {
                label: "Subtotal".to_owned(),
                amount: money::format(quote.subtotal, currency),
            });
        }
        let discount = choices.discount.as_ref().map(|d| {
            let name = d
                .code
                .as_ref()
                .or(d.coupon.name.as_ref())
                .unwrap_or(&d.coupon.id);
            format!("{name} ({})", d.coupon.describe())
        });
        if let Some(label) = &discount {
            rows.push(Row {
                label: format!("Discount: {label}"),
                amount: money::format(-quote.discount, currency),
            });
        }
        if let (Some(rate), Some(shipping)) = (session.shipping_rate(choices), quote.shipping) {
            rows.push(Row {
                label: format!("Shipping: {}", rate.display_name),
                amount: money::format(shipping.subtotal, currency),
            });
        }
        if session.automatic_tax {
            let row = match session.tax_rate(choices) {
                _ if !session.tax_located(choices) => Row {
                    label: "Tax".to_owned(),
                    amount: "Calculated from your address".to_owned(),
                },
                Some(rate) => Row {
                    label: format!(
                        "{} ({}%)",
                        rate.display_name,
                        pricing::percent_text(rate.basis_points)
                    ),
                    amount: money::format(quote.tax, currency),
                },
                None => Row {
                    label: "Tax".to_owned(),
                    amount: money::format(0, currency),
                },
            };
            rows.push(row);
        }
        let methods: Vec<MethodView> = if session.payment_method_types.len() > 1 {
            let chosen = match form.payment_method.trim() {
                "" => "card",
                chosen => chosen,
            };
            session
                .payment_method_types
                .iter()
                .map(|kind| {
                    let (value, label) = match BankDebit::from_type(kind) {
                        Some(bank) => (bank.as_str(), bank.label()),
                        None => ("card", "Card"),
                    };
                    MethodView {
                        value,
                        label,
                        checked: value == chosen,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let offers = |bank: BankDebit| {
            session
                .payment_method_types
                .iter()
                .any(|t| t == bank.as_str())
        };
        let email = if form.email.is_empty() {
            session.customer_email.clone().unwrap_or_default()
        } else {
            form.email.clone()
        };
        Self {
            action: session.url.clone(),
            cancel_url: session.cancel_url.clone(),
            items,
            rows,
            total: money::format(quote.total, currency),
            total_minor: quote.total,
            form: PayForm {
                email,
                ..form.clone()
            },
            error: None,
            error_field: "",
            notice: None,
            address: address_view(session, form),
            rates: rate_views(session, choices),
            promotion_codes: session.allow_promotion_codes == Some(true),
            discount,
            methods,
            us_bank_account: offers(BankDebit::UsBankAccount),
            sepa_debit: offers(BankDebit::SepaDebit),
        }
    }

    pub fn with_problem(mut self, problem: Problem) -> Self {
        self.error = Some(problem.message);
        self.error_field = problem.field;
        self
    }

    pub fn with_notice(mut self, notice: String) -> Self {
        self.notice = Some(notice);
        self
    }
}

fn address_view(session: &Session, form: &PayForm) -> Option<AddressView> {
    let (legend, prefix, full, codes, chosen, state, postal_code): (_, _, _, Vec<&str>, _, _, _) =
        match &session.shipping_countries {
            Some(allowed) => (
                "Shipping address",
                "shipping",
                true,
                allowed.iter().map(String::as_str).collect(),
                &form.shipping_country,
                &form.shipping_state,
                &form.shipping_postal_code,
            ),
            None if session.automatic_tax => (
                "Billing address",
                "billing",
                false,
                countries::all().map(|(code, _)| code).collect(),
                &form.billing_country,
                &form.billing_state,
                &form.billing_postal_code,
            ),
            None => return None,
        };
    let chosen = match chosen.trim() {
        "" => codes.first().copied().unwrap_or_default(),
        chosen => chosen,
    };
    let regions = if codes.iter().any(|c| countries::regions(c).is_some()) {
        countries::region_suggestions().collect()
    } else {
        Vec::new()
    };
    let countries = codes
        .into_iter()
        .filter_map(|code| {
            let (code, name) = countries::all().find(|(c, _)| *c == code)?;
            Some(CountryView {
                code,
                name,
                selected: code == chosen,
            })
        })
        .collect();
    Some(AddressView {
        legend,
        prefix,
        full,
        countries,
        state: state.clone(),
        postal_code: postal_code.clone(),
        regions,
    })
}

fn rate_views(session: &Session, choices: &Choices) -> Vec<RateView> {
    let currency = session.currency.as_str();
    session
        .shipping_options
        .iter()
        .map(|rate| RateView {
            id: rate.id.clone(),
            label: rate.display_name.clone(),
            amount: money::format(rate.amount, currency),
            estimate: rate.estimate(),
            checked: choices.shipping_rate.as_deref() == Some(rate.id.as_str()),
        })
        .collect()
}
