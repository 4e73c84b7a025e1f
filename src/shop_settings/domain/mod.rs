//! The merchant's checkout settings as values with rules: Stripe's country
//! codes (`countries`), how prices relate to tax, and shipping rates per
//! currency, free from a threshold, with what a checkout offers
//! (`shipping`).

mod countries;
mod shipping;

pub use countries::Country;
pub use shipping::{
    DeliveryEstimate, MAX_SHIPPING_OPTIONS, RatePrice, ShippingOffer, ShippingOutlook,
    ShippingRate, ShippingRateDraft, ShippingRateForm, offers,
};

/// How prices and shipping rates are meant: tax included, or added on top
/// (Stripe's `tax_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxBehavior {
    Inclusive,
    Exclusive,
}

impl TaxBehavior {
    pub fn from_prices_include_tax(include: bool) -> TaxBehavior {
        if include {
            TaxBehavior::Inclusive
        } else {
            TaxBehavior::Exclusive
        }
    }

    pub fn prices_include_tax(self) -> bool {
        self == TaxBehavior::Inclusive
    }
}

/// A setting the merchant gave that cannot be: the field and what to fix,
/// worded for the back office.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field,
        message: message.into(),
    }
}

/// The merchant's checkout settings (one row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopSettings {
    shipping_countries: Vec<Country>,
    /// Stripe computes and collects tax.
    pub automatic_tax: bool,
    pub tax_behavior: TaxBehavior,
    /// The payment page takes promotion codes.
    pub promotion_codes: bool,
}

impl ShopSettings {
    /// At least one country, each once (in the order given).
    pub fn new(
        shipping_countries: Vec<Country>,
        automatic_tax: bool,
        tax_behavior: TaxBehavior,
        promotion_codes: bool,
    ) -> Result<ShopSettings, InvalidSetting> {
        let mut countries: Vec<Country> = Vec::with_capacity(shipping_countries.len());
        for country in shipping_countries {
            if !countries.contains(&country) {
                countries.push(country);
            }
        }
        if countries.is_empty() {
            return Err(invalid(
                "shipping_countries",
                "Choose at least one country to ship to.",
            ));
        }
        Ok(ShopSettings {
            shipping_countries: countries,
            automatic_tax,
            tax_behavior,
            promotion_codes,
        })
    }

    /// Parses the countries as a form gives them (`["US", "gb"]`): an
    /// unknown code is refused by name.
    pub fn parse_countries(raw: &[&str]) -> Result<Vec<Country>, InvalidSetting> {
        raw.iter()
            .map(|code| {
                Country::parse(code).ok_or_else(|| {
                    invalid(
                        "shipping_countries",
                        format!("{:?} is not a country code Stripe ships to.", code.trim()),
                    )
                })
            })
            .collect()
    }

    pub fn shipping_countries(&self) -> &[Country] {
        &self.shipping_countries
    }

    /// What the cart may say about tax: never more than checkout does.
    pub fn tax_note(&self) -> TaxNote {
        match (self.tax_behavior, self.automatic_tax) {
            (TaxBehavior::Inclusive, _) => TaxNote::Included,
            (TaxBehavior::Exclusive, true) => TaxNote::AddedAtCheckout,
            (TaxBehavior::Exclusive, false) => TaxNote::NoneAdded,
        }
    }
}

/// How tax reaches a shopper's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxNote {
    /// Prices include it; the total does not change.
    Included,
    /// Stripe adds it at checkout, from the address.
    AddedAtCheckout,
    /// Prices exclude tax and none is collected.
    NoneAdded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_stripe_s_codes_in_any_case() {
        assert_eq!(Country::parse(" gb ").map(Country::code), Some("GB"));
        assert_eq!(Country::parse("XK").map(Country::code), Some("XK"));
        for bad in ["", "G", "GBR", "UK", "zz1", "ÜS"] {
            assert_eq!(Country::parse(bad), None, "{bad:?}");
        }
        let refused = ShopSettings::parse_countries(&["US", "Narnia"]).unwrap_err();
        assert_eq!(refused.field, "shipping_countries");
        let none = ShopSettings::new(vec![], false, TaxBehavior::Inclusive, true).unwrap_err();
        assert_eq!(none.field, "shipping_countries");
        let by_name: Vec<&str> = Country::by_name().iter().map(|c| c.name()).collect();
        assert_eq!(by_name.len(), 237);
        assert_eq!(by_name[..3], ["Afghanistan", "Åland Islands", "Albania"]);
        let twice = ShopSettings::parse_countries(&["US", "us", "CA"]).unwrap();
        let settings = ShopSettings::new(twice, false, TaxBehavior::Inclusive, true).unwrap();
        assert_eq!(settings.shipping_countries().len(), 2);
    }

    #[test]
    fn the_tax_note_never_promises_more_than_checkout_does() {
        let settings = |automatic, behavior| {
            ShopSettings::new(
                vec![Country::parse("US").unwrap()],
                automatic,
                behavior,
                false,
            )
            .unwrap()
            .tax_note()
        };
        assert_eq!(settings(false, TaxBehavior::Inclusive), TaxNote::Included);
        assert_eq!(settings(true, TaxBehavior::Inclusive), TaxNote::Included);
        assert_eq!(
            settings(true, TaxBehavior::Exclusive),
            TaxNote::AddedAtCheckout
        );
        assert_eq!(settings(false, TaxBehavior::Exclusive), TaxNote::NoneAdded);
    }
}
