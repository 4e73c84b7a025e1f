//! The settings page's forms as typed, turned into `shop_settings`' values
//! (whose rules they are, checked there and only there), and what the audit
//! log keeps of a change.

use serde_json::{Value, json};

use crate::money::{Currency, Money};
use crate::shop_settings::domain::{
    Country, InvalidSetting, ShippingRate, ShippingRateDraft, ShippingRateForm, ShopSettings,
    TaxBehavior,
};

/// A posted form's fields as (name, value) pairs, in order: a ticked
/// checkbox list repeats its name, which a struct cannot hold.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn new(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs)
    }

    /// The field's first value; empty when it was not sent.
    fn value(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map_or("", |(_, value)| value.as_str())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// A checkbox: sent only when ticked.
    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(field, _)| field == name)
    }
}

fn tax_behavior_value(behavior: TaxBehavior) -> &'static str {
    match behavior {
        TaxBehavior::Inclusive => "inclusive",
        TaxBehavior::Exclusive => "exclusive",
    }
}

/// The shop settings form as typed.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    /// The country codes ticked.
    pub countries: Vec<String>,
    pub automatic_tax: bool,
    /// `inclusive` or `exclusive`: what prices mean.
    pub tax_behavior: String,
    pub promotion_codes: bool,
}

impl SettingsInput {
    /// The form filled with the settings as they are.
    pub fn of(settings: &ShopSettings) -> SettingsInput {
        SettingsInput {
            countries: settings
                .shipping_countries()
                .iter()
                .map(|country| country.code().to_owned())
                .collect(),
            automatic_tax: settings.automatic_tax,
            tax_behavior: tax_behavior_value(settings.tax_behavior).to_owned(),
            promotion_codes: settings.promotion_codes,
        }
    }

    pub fn from_fields(fields: &Fields) -> SettingsInput {
        SettingsInput {
            countries: fields.values("shipping_countries"),
            automatic_tax: fields.checked("automatic_tax"),
            tax_behavior: fields.value("tax_behavior").to_owned(),
            promotion_codes: fields.checked("promotion_codes"),
        }
    }

    pub fn check(&self) -> Result<ShopSettings, InvalidSetting> {
        let codes: Vec<&str> = self.countries.iter().map(String::as_str).collect();
        let countries = ShopSettings::parse_countries(&codes)?;
        let tax_behavior = [TaxBehavior::Inclusive, TaxBehavior::Exclusive]
            .into_iter()
            .find(|behavior| tax_behavior_value(*behavior) == self.tax_behavior)
            .ok_or_else(|| InvalidSetting {
                field: "tax_behavior",
                message: "Choose whether prices include tax or have it added.".into(),
            })?;
        ShopSettings::new(
            countries,
            self.automatic_tax,
            tax_behavior,
            self.promotion_codes,
        )
    }

    /// Whether the form has `country` ticked.
    pub fn ships_to(&self, country: &Country) -> bool {
        self.countries
            .iter()
            .any(|code| code.trim().eq_ignore_ascii_case(country.code()))
    }

    pub fn tax_behavior_is(&self, value: &str) -> bool {
        self.tax_behavior == value
    }
}

/// One currency's price of a rate as typed: both empty where the rate is
/// not offered in that currency.
#[derive(Debug, Clone)]
pub struct PriceInput {
    pub currency: Currency,
    pub amount: String,
    pub free_over: String,
}

impl PriceInput {
    /// The form's field names for this currency's amount and threshold.
    pub fn amount_field(&self) -> String {
        format!("price_{}", self.currency.code())
    }

    pub fn free_over_field(&self) -> String {
        format!("free_over_{}", self.currency.code())
    }

    fn is_blank(&self) -> bool {
        self.amount.trim().is_empty() && self.free_over.trim().is_empty()
    }
}

/// A shipping rate's form as typed, with a line per currency we sell in.
#[derive(Debug, Clone)]
pub struct RateInput {
    pub display_name: String,
    pub min_business_days: String,
    pub max_business_days: String,
    pub position: String,
    pub active: bool,
    pub prices: Vec<PriceInput>,
}

impl RateInput {
    /// A new rate's form: offered, after the rates there are.
    pub fn blank(position: i32) -> RateInput {
        RateInput {
            display_name: String::new(),
            min_business_days: String::new(),
            max_business_days: String::new(),
            position: position.to_string(),
            active: true,
            prices: Currency::ALL
                .into_iter()
                .map(|currency| PriceInput {
                    currency,
                    amount: String::new(),
                    free_over: String::new(),
                })
                .collect(),
        }
    }

    /// The form filled with the rate as it is.
    pub fn of(rate: &ShippingRate) -> RateInput {
        let days = |day: Option<u16>| day.map(|d| d.to_string()).unwrap_or_default();
        RateInput {
            display_name: rate.display_name.clone(),
            min_business_days: days(rate.delivery.map(|d| d.min_business_days())),
            max_business_days: days(rate.delivery.map(|d| d.max_business_days())),
            position: rate.position.to_string(),
            active: rate.active,
            prices: Currency::ALL
                .into_iter()
                .map(|currency| {
                    let price = rate.price_in(currency);
                    PriceInput {
                        currency,
                        amount: price.map(|p| p.amount().decimal()).unwrap_or_default(),
                        free_over: price
                            .and_then(|p| p.free_over())
                            .map(Money::decimal)
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }

    pub fn from_fields(fields: &Fields) -> RateInput {
        let mut input = RateInput::blank(0);
        input.display_name = fields.value("display_name").to_owned();
        input.min_business_days = fields.value("min_business_days").to_owned();
        input.max_business_days = fields.value("max_business_days").to_owned();
        input.position = fields.value("position").to_owned();
        input.active = fields.checked("active");
        for price in &mut input.prices {
            price.amount = fields.value(&price.amount_field()).to_owned();
            price.free_over = fields.value(&price.free_over_field()).to_owned();
        }
        input
    }

    pub fn check(&self) -> Result<ShippingRateDraft, InvalidSetting> {
        let position = self
            .position
            .trim()
            .parse::<i32>()
            .map_err(|_| InvalidSetting {
                field: "position",
                message: "The position is a whole number: rates are offered lowest first.".into(),
            })?;
        ShippingRateDraft::parse(&ShippingRateForm {
            display_name: &self.display_name,
            min_business_days: &self.min_business_days,
            max_business_days: &self.max_business_days,
            active: self.active,
            position,
            prices: self
                .prices
                .iter()
                .filter(|price| !price.is_blank())
                .map(|price| {
                    (
                        price.currency.code(),
                        price.amount.as_str(),
                        price.free_over.as_str(),
                    )
                })
                .collect(),
        })
    }
}

/// The settings as the audit log keeps them.
pub fn settings_snapshot(settings: &ShopSettings) -> Value {
    let countries: Vec<&str> = settings
        .shipping_countries()
        .iter()
        .map(|country| country.code())
        .collect();
    json!({
        "shipping_countries": countries.join(", "),
        "automatic_tax": settings.automatic_tax,
        "prices_include_tax": settings.tax_behavior.prices_include_tax(),
        "promotion_codes": settings.promotion_codes,
    })
}

/// A shipping rate as the audit log keeps it: one value per field, so a
/// change of price reads as one ("EUR 5.00; USD 5.00 free over 75.00").
pub fn rate_snapshot(rate: &ShippingRateDraft) -> Value {
    // By currency code, as stored: a form posting them in another order
    // changes nothing.
    let mut sorted = rate.prices.clone();
    sorted.sort_by_key(|price| price.currency().code());
    let prices: Vec<String> = sorted
        .iter()
        .map(|price| match price.free_over() {
            Some(threshold) => format!(
                "{} {} free over {}",
                price.currency(),
                price.amount().decimal(),
                threshold.decimal()
            ),
            None => format!("{} {}", price.currency(), price.amount().decimal()),
        })
        .collect();
    json!({
        "display_name": rate.display_name,
        "delivery": rate.delivery.map(|d| d.to_string()),
        "active": rate.active,
        "position": rate.position,
        "prices": prices.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn the_settings_form_reads_ticked_countries_and_refuses_what_the_domain_refuses() {
        let form = fields(&[
            ("shipping_countries", "US"),
            ("shipping_countries", "ie"),
            ("tax_behavior", "exclusive"),
            ("promotion_codes", "1"),
        ]);
        let settings = SettingsInput::from_fields(&form).check().unwrap();
        let codes: Vec<&str> = settings
            .shipping_countries()
            .iter()
            .map(|c| c.code())
            .collect();
        assert_eq!(codes, ["US", "IE"]);
        assert!(!settings.automatic_tax && settings.promotion_codes);
        assert_eq!(settings.tax_behavior, TaxBehavior::Exclusive);
        assert_eq!(settings_snapshot(&settings)["shipping_countries"], "US, IE");

        let refused = |pairs: &[(&str, &str)]| {
            SettingsInput::from_fields(&fields(pairs))
                .check()
                .unwrap_err()
                .field
        };
        assert_eq!(
            refused(&[("tax_behavior", "inclusive")]),
            "shipping_countries"
        );
        assert_eq!(
            refused(&[("shipping_countries", "XX"), ("tax_behavior", "inclusive")]),
            "shipping_countries"
        );
        assert_eq!(
            refused(&[("shipping_countries", "US"), ("tax_behavior", "both")]),
            "tax_behavior"
        );
    }

    #[test]
    fn a_rate_form_skips_blank_currencies_and_round_trips_a_rate() {
        let form = fields(&[
            ("display_name", "Courier"),
            ("min_business_days", "1"),
            ("max_business_days", "2"),
            ("position", "3"),
            ("active", "1"),
            ("price_USD", "7.25"),
            ("free_over_USD", "100"),
            ("price_JPY", "900"),
            ("free_over_JPY", ""),
        ]);
        let draft = RateInput::from_fields(&form).check().unwrap();
        assert_eq!(draft.prices.len(), 2);
        assert_eq!(draft.position, 3);
        let snapshot = rate_snapshot(&draft);
        assert_eq!(snapshot["prices"], "JPY 900; USD 7.25 free over 100.00");
        assert_eq!(snapshot["delivery"], "1–2 business days");
        let rate = ShippingRate {
            id: 9,
            display_name: draft.display_name.clone(),
            delivery: draft.delivery,
            active: draft.active,
            position: draft.position,
            prices: draft.prices.clone(),
        };
        assert_eq!(RateInput::of(&rate).check().unwrap(), draft);

        let refused = |pairs: &[(&str, &str)]| {
            RateInput::from_fields(&fields(pairs))
                .check()
                .unwrap_err()
                .field
        };
        let valid = [("display_name", "Courier"), ("position", "1")];
        assert_eq!(refused(&valid), "prices", "no currency priced");
        assert_eq!(
            refused(&[("display_name", "Courier"), ("position", "first")]),
            "position"
        );
        assert_eq!(
            refused(&[valid[0], valid[1], ("price_EUR", "-1")]),
            "prices"
        );
        assert_eq!(
            refused(&[valid[0], valid[1], ("free_over_GBP", "10")]),
            "prices",
            "a threshold without a price"
        );
    }
}
