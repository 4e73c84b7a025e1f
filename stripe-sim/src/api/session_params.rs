//! The parts of a new Checkout Session read from several parameters each:
//! line items, shipping, discounts and payment method types.

use super::common::currency_param;
use super::shipping_rates;
use crate::banks::BankDebit;
use crate::countries;
use crate::error::ApiError;
use crate::form::{Field, Params};
use crate::ids;
use crate::model::{AppliedDiscount, LineItem, ShippingRate};
use crate::pricing::TaxBehavior;
use crate::promotions::{self, Order, Refusal};
use crate::state::State;

/// Every parameter `POST /v1/checkout/sessions` accepts.
pub fn allowed() -> Vec<String> {
    let mut allowed: Vec<String> = [
        "mode",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "customer",
        "customer_email",
        "customer_creation",
        "expires_at",
        "locale",
        "submit_type",
        "metadata[*]",
        "payment_method_types[N]",
        "expand[N]",
        "line_items[N][quantity]",
        "line_items[N][price]",
        "line_items[N][price_data][currency]",
        "line_items[N][price_data][unit_amount]",
        "line_items[N][price_data][tax_behavior]",
        "line_items[N][price_data][product_data][name]",
        "line_items[N][price_data][product_data][description]",
        "payment_intent_data[setup_future_usage]",
        "payment_intent_data[description]",
        "payment_intent_data[metadata][*]",
        "shipping_address_collection[allowed_countries][N]",
        "shipping_options[N][shipping_rate]",
        "automatic_tax[enabled]",
        "allow_promotion_codes",
        "discounts[N][coupon]",
        "discounts[N][promotion_code]",
    ]
    .map(str::to_owned)
    .to_vec();
    allowed.extend(shipping_rates::nested_params(
        "shipping_options[N][shipping_rate_data]",
    ));
    allowed
}

/// The line items and their one currency.
pub fn line_items(p: &Params, now: i64) -> Result<(Vec<LineItem>, String), ApiError> {
    let items = p.field("line_items").items()?;
    if items.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    if items.len() > 100 {
        return Err(ApiError::invalid_param(
            "line_items",
            "You may only specify up to 100 line items in payment mode.",
        ));
    }
    let mut line_items = Vec::with_capacity(items.len());
    let mut currency: Option<String> = None;
    for item in &items {
        let price = item.child("price");
        if let Some(price_id) = price.opt_str()? {
            // Prices are not simulated: only `price_data` describes an item.
            return Err(ApiError::no_such("price", price_id, price.path(), false));
        }
        let price_data = item.child("price_data");
        if !price_data.is_present() {
            return Err(ApiError::missing_param(price_data.path()));
        }
        let item_currency = currency_param(&price_data.child("currency"))?;
        let unit_field = price_data.child("unit_amount");
        let unit_amount = unit_field
            .opt_int_min(0)?
            .ok_or_else(|| ApiError::missing_param(unit_field.path()))?;
        let product = price_data.child("product_data");
        let name = product.child("name").req_str()?.to_owned();
        let description = product.child("description").opt_string()?;
        let quantity_field = item.child("quantity");
        let quantity = quantity_field
            .opt_int_min(1)?
            .ok_or_else(|| ApiError::missing_param(quantity_field.path()))?;
        let tax_behavior = price_data
            .child("tax_behavior")
            .opt_enum(TaxBehavior::NAMES)?
            .map_or(TaxBehavior::Unspecified, TaxBehavior::parse);
        match &currency {
            Some(c) if *c != item_currency => {
                return Err(ApiError::invalid_param(
                    price_data.child("currency").path(),
                    "All line items must use the same currency.",
                ));
            }
            _ => currency = Some(item_currency.clone()),
        }
        line_items.push(LineItem {
            id: ids::object("li"),
            price_id: ids::object("price"),
            product_id: ids::short("prod"),
            name,
            description,
            currency: item_currency,
            unit_amount,
            quantity,
            // Saturating: anything near overflow is far above Stripe's maximum anyway.
            amount: unit_amount.saturating_mul(quantity),
            tax_behavior,
            created: now,
        });
    }
    Ok((line_items, currency.unwrap_or_default()))
}

/// `shipping_address_collection[allowed_countries]`.
pub fn shipping_countries(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
    let collection = p.field("shipping_address_collection");
    if !collection.is_present() {
        return Ok(None);
    }
    let field = collection.child("allowed_countries");
    let countries = field.string_list()?;
    if countries.is_empty() {
        return Err(ApiError::missing_param(field.path()));
    }
    for (i, country) in countries.iter().enumerate() {
        if countries::name(country).is_none() {
            return Err(ApiError::invalid_param(
                &format!("{}[{i}]", field.path()),
                format!(
                    "Invalid {}[{i}]: must be one of Stripe's two-letter country codes, such as US, GB or DE",
                    field.path()
                ),
            ));
        }
    }
    Ok(Some(countries))
}

/// The shipping options in the session's currency, and which of them are new:
/// existing rates by id, or rates from `shipping_rate_data`, which the caller
/// stores once the session is sure to be created (as Stripe creates them).
pub fn shipping_options(
    st: &State,
    p: &Params,
    currency: &str,
) -> Result<(Vec<ShippingRate>, Vec<ShippingRate>), ApiError> {
    let options = p.field("shipping_options").items()?;
    if options.len() > 5 {
        return Err(ApiError::invalid_param(
            "shipping_options",
            "You may only specify up to 5 shipping options.",
        ));
    }
    let (mut rates, mut created) = (Vec::with_capacity(options.len()), Vec::new());
    for option in &options {
        let by_id = option.child("shipping_rate");
        let data = option.child("shipping_rate_data");
        let rate = match (by_id.opt_str()?, data.is_present()) {
            (Some(_), true) | (None, false) => {
                return Err(ApiError::invalid_param(
                    option.path(),
                    format!(
                        "You must specify exactly one of {} or {}.",
                        by_id.path(),
                        data.path()
                    ),
                ));
            }
            (Some(id), false) => st
                .shipping_rates
                .get(id)
                .cloned()
                .ok_or_else(|| ApiError::no_such("shipping_rate", id, by_id.path(), false))?,
            (None, true) => shipping_rates::parse(st, &data)?,
        };
        if rate.currency != currency {
            return Err(ApiError::invalid_param(
                option.path(),
                format!(
                    "The shipping rate's currency ({}) must match the Checkout Session's currency ({currency}).",
                    rate.currency
                ),
            ));
        }
        if data.is_present() {
            created.push(rate.clone());
        }
        rates.push(rate);
    }
    Ok((rates, created))
}

fn refused(field: &Field<'_>, object: &str, id: &str, refusal: &Refusal) -> ApiError {
    match refusal {
        Refusal::Unknown => ApiError::no_such(object, id, field.path(), false),
        other => ApiError::invalid_param(field.path(), other.message()),
    }
}

/// `discounts[0][coupon]` or `discounts[0][promotion_code]`: Stripe takes one.
pub fn discount(
    st: &State,
    p: &Params,
    order: &Order<'_>,
) -> Result<Option<AppliedDiscount>, ApiError> {
    let discounts = p.field("discounts").items()?;
    if discounts.len() > 1 {
        return Err(ApiError::invalid_param(
            "discounts",
            "You may only specify one discount for a Checkout Session.",
        ));
    }
    let Some(entry) = discounts.first() else {
        return Ok(None);
    };
    if p.field("allow_promotion_codes").is_present() {
        return Err(ApiError::invalid_param(
            "discounts",
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
        ));
    }
    let (coupon, code) = (entry.child("coupon"), entry.child("promotion_code"));
    let applied = match (coupon.opt_str()?, code.opt_str()?) {
        (Some(id), None) => {
            promotions::coupon(st, id, order).map_err(|r| refused(&coupon, "coupon", id, &r))?
        }
        (None, Some(id)) => promotions::promotion_code(st, id, order)
            .map_err(|r| refused(&code, "promotion_code", id, &r))?,
        _ => {
            return Err(ApiError::invalid_param(
                entry.path(),
                format!(
                    "You must specify exactly one of {} or {}.",
                    coupon.path(),
                    code.path()
                ),
            ));
        }
    };
    Ok(Some(applied))
}

/// The payment method types: as given (card and the two bank debits are
/// simulated), or what "the account" enables: card, and the bank debit of
/// the session's currency.
pub fn payment_method_types(p: &Params, currency: &str) -> Result<Vec<String>, ApiError> {
    let field = p.field("payment_method_types");
    let types = field.string_list()?;
    if types.is_empty() {
        let banks = BankDebit::ALL
            .into_iter()
            .filter(|bank| bank.currency() == currency)
            .map(|bank| bank.as_str().to_owned());
        return Ok(std::iter::once("card".to_owned()).chain(banks).collect());
    }
    for (i, kind) in types.iter().enumerate() {
        if kind == "card" {
            continue;
        }
        let Some(bank) = BankDebit::from_type(kind) else {
            return Err(ApiError::invalid_param(
                &format!("{}[{i}]", field.path()),
                format!(
                    "The payment method type `{kind}` is not supported by this simulator; use \
                     card, us_bank_account or sepa_debit."
                ),
            ));
        };
        if bank.currency() != currency {
            return Err(ApiError::invalid_param(
                "payment_method_types",
                format!(
                    "The currency provided ({currency}) is invalid for one or more payment method \
                     types on this Checkout Session. The payment method type {kind} only supports \
                     the following currencies: {}.",
                    bank.currency()
                ),
            ));
        }
    }
    Ok(types)
}
