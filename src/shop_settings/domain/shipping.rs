//! Shipping rates per currency, free from a threshold, with a delivery
//! estimate; what a checkout offers and what the cart may say of it.

use std::fmt;

use super::{InvalidSetting, invalid};
use crate::money::{Currency, Money, MoneyError};

/// Stripe shows at most this many shipping options.
pub const MAX_SHIPPING_OPTIONS: usize = 5;

/// A delivery estimate in business days: `min` to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryEstimate {
    min: u16,
    max: u16,
}

impl DeliveryEstimate {
    /// From 1 to 365 business days, `min` at most `max`.
    pub fn new(min: u16, max: u16) -> Option<DeliveryEstimate> {
        ((1..=365).contains(&min) && (1..=365).contains(&max) && min <= max)
            .then_some(DeliveryEstimate { min, max })
    }

    /// As stored: both bounds or neither.
    pub fn from_days(min: Option<i32>, max: Option<i32>) -> Option<DeliveryEstimate> {
        let (min, max) = (u16::try_from(min?).ok()?, u16::try_from(max?).ok()?);
        DeliveryEstimate::new(min, max)
    }

    pub fn min_business_days(self) -> u16 {
        self.min
    }

    pub fn max_business_days(self) -> u16 {
        self.max
    }
}

impl fmt::Display for DeliveryEstimate {
    /// "3–5 business days", "1 business day".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (1, 1) => f.write_str("1 business day"),
            (min, max) if min == max => write!(f, "{min} business days"),
            (min, max) => write!(f, "{min}–{max} business days"),
        }
    }
}

/// A shipping rate's price in one currency, free for orders whose items
/// come to `free_over` or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePrice {
    amount: Money,
    free_over: Option<Money>,
}

impl RatePrice {
    /// Both in one currency, within what Stripe can charge.
    pub fn new(amount: Money, free_over: Option<Money>) -> Result<RatePrice, MoneyError> {
        let currency = amount.currency();
        for money in std::iter::once(amount).chain(free_over) {
            if money.currency() != currency {
                return Err(MoneyError::CurrencyMismatch(currency, money.currency()));
            }
            if money.minor() > currency.maximum_charge() {
                return Err(MoneyError::Overflow);
            }
        }
        Ok(RatePrice { amount, free_over })
    }

    pub fn amount(self) -> Money {
        self.amount
    }

    pub fn free_over(self) -> Option<Money> {
        self.free_over
    }

    pub fn currency(self) -> Currency {
        self.amount.currency()
    }

    /// What shipping costs an order whose items come to `items`.
    pub fn for_items(self, items: Money) -> Money {
        match self.free_over {
            Some(threshold) if items.minor() >= threshold.minor() => Money::zero(self.currency()),
            _ => self.amount,
        }
    }
}

/// A shipping rate as the merchant set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    pub id: i64,
    pub display_name: String,
    pub delivery: Option<DeliveryEstimate>,
    /// Offered at checkout.
    pub active: bool,
    /// Offered in this order, lowest first.
    pub position: i32,
    pub prices: Vec<RatePrice>,
}

impl ShippingRate {
    /// The rate as a change starts from: everything but its id.
    pub fn draft(&self) -> ShippingRateDraft {
        ShippingRateDraft {
            display_name: self.display_name.clone(),
            delivery: self.delivery,
            active: self.active,
            position: self.position,
            prices: self.prices.clone(),
        }
    }

    pub fn price_in(&self, currency: Currency) -> Option<RatePrice> {
        self.prices
            .iter()
            .copied()
            .find(|price| price.currency() == currency)
    }
}

/// A shipping option one checkout offers: a rate at its price for this
/// order (free past its threshold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOffer {
    pub rate_id: i64,
    pub display_name: String,
    pub amount: Money,
    pub delivery: Option<DeliveryEstimate>,
}

/// The options a checkout whose items come to `items` offers: the active
/// rates priced in its currency, in position order, at most Stripe's five.
/// (The threshold is on the items before any promotion code: Stripe
/// applies the code after the options are set.)
pub fn offers(rates: &[ShippingRate], items: Money) -> Vec<ShippingOffer> {
    let mut offered: Vec<&ShippingRate> = rates.iter().filter(|rate| rate.active).collect();
    offered.sort_by_key(|rate| (rate.position, rate.id));
    offered
        .into_iter()
        .filter_map(|rate| {
            let price = rate.price_in(items.currency())?;
            Some(ShippingOffer {
                rate_id: rate.id,
                display_name: rate.display_name.clone(),
                amount: price.for_items(items),
                delivery: rate.delivery,
            })
        })
        .take(MAX_SHIPPING_OPTIONS)
        .collect()
}

/// What the cart may say about shipping before checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingOutlook {
    /// Nothing in it ships: no address is asked for.
    NotNeeded,
    /// It ships for nothing (a free option, or no rates in its currency).
    Free,
    /// The cheapest option costs `from`; shipping is free once the items
    /// come to `free_over`.
    From {
        from: Money,
        free_over: Option<Money>,
    },
}

impl ShippingOutlook {
    pub fn of(rates: &[ShippingRate], items: Money, needs_shipping: bool) -> ShippingOutlook {
        if !needs_shipping {
            return ShippingOutlook::NotNeeded;
        }
        let Some(from) = offers(rates, items)
            .iter()
            .map(|o| o.amount)
            .min_by_key(|m| m.minor())
        else {
            return ShippingOutlook::Free;
        };
        if from.minor() == 0 {
            return ShippingOutlook::Free;
        }
        let free_over = rates
            .iter()
            .filter(|rate| rate.active)
            .filter_map(|rate| rate.price_in(items.currency())?.free_over())
            .min_by_key(|threshold| threshold.minor());
        ShippingOutlook::From { from, free_over }
    }
}

/// A shipping rate as a back office submits it: every field as typed.
#[derive(Debug, Clone, Default)]
pub struct ShippingRateForm<'a> {
    pub display_name: &'a str,
    /// Business days, or both empty for no estimate.
    pub min_business_days: &'a str,
    pub max_business_days: &'a str,
    pub active: bool,
    pub position: i32,
    /// Per currency: (currency code, amount, free-over amount or "").
    pub prices: Vec<(&'a str, &'a str, &'a str)>,
}

/// A shipping rate to create or replace, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRateDraft {
    pub display_name: String,
    pub delivery: Option<DeliveryEstimate>,
    pub active: bool,
    pub position: i32,
    pub prices: Vec<RatePrice>,
}

impl ShippingRateDraft {
    /// Amounts are exact decimals in the currency's unit ("5.00", "700").
    pub fn parse(form: &ShippingRateForm<'_>) -> Result<ShippingRateDraft, InvalidSetting> {
        let display_name = form.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(invalid(
                "display_name",
                "Give the rate a name of 1 to 100 characters.",
            ));
        }
        let days = |raw: &str| raw.trim().parse::<u16>().ok();
        let delivery = match (form.min_business_days.trim(), form.max_business_days.trim()) {
            ("", "") => None,
            (min, max) => Some(
                days(min)
                    .zip(days(max))
                    .and_then(|(min, max)| DeliveryEstimate::new(min, max))
                    .ok_or_else(|| {
                        invalid(
                            "delivery",
                            "The delivery estimate is 1 to 365 business days, the shortest first.",
                        )
                    })?,
            ),
        };
        let mut prices: Vec<RatePrice> = Vec::with_capacity(form.prices.len());
        for (currency, amount, free_over) in &form.prices {
            let currency: Currency = currency.parse().map_err(|_| {
                invalid(
                    "prices",
                    format!("{currency:?} is not a currency we sell in."),
                )
            })?;
            if prices.iter().any(|p| p.currency() == currency) {
                return Err(invalid("prices", format!("{currency} is priced twice.")));
            }
            let money = |raw: &str| {
                Money::parse_decimal(raw, currency).map_err(|error| {
                    invalid(
                        "prices",
                        format!("{raw:?} is not an amount in {currency}: {error}."),
                    )
                })
            };
            let free_over = match free_over.trim() {
                "" => None,
                raw => Some(money(raw)?),
            };
            let price = RatePrice::new(money(amount)?, free_over).map_err(|_| {
                invalid(
                    "prices",
                    format!("{currency} amounts can be at most Stripe's largest charge."),
                )
            })?;
            prices.push(price);
        }
        if prices.is_empty() {
            return Err(invalid(
                "prices",
                "Price the rate in at least one currency.",
            ));
        }
        Ok(ShippingRateDraft {
            display_name: display_name.to_owned(),
            delivery,
            active: form.active,
            position: form.position,
            prices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }

    fn rate(id: i64, name: &str, position: i32, price: RatePrice) -> ShippingRate {
        ShippingRate {
            id,
            display_name: name.into(),
            delivery: DeliveryEstimate::new(1, 2),
            active: true,
            position,
            prices: vec![price],
        }
    }

    #[test]
    fn a_rate_is_free_from_its_threshold_and_offered_in_its_currencies() {
        let standard = rate(
            1,
            "Standard",
            1,
            RatePrice::new(usd(500), Some(usd(7500))).unwrap(),
        );
        let express = rate(2, "Express", 2, RatePrice::new(usd(1500), None).unwrap());
        let rates = [express.clone(), standard.clone()];
        let offered = offers(&rates, usd(7499));
        assert_eq!(
            offered
                .iter()
                .map(|o| (o.display_name.as_str(), o.amount.minor()))
                .collect::<Vec<_>>(),
            [("Standard", 500), ("Express", 1500)]
        );
        let free = offers(&rates, usd(7500));
        assert_eq!(free[0].amount.minor(), 0);
        assert_eq!(free[1].amount.minor(), 1500);
        let yen = Money::new(5000, Currency::Jpy).unwrap();
        assert!(offers(&rates, yen).is_empty(), "no JPY prices");
        let inactive = ShippingRate {
            active: false,
            ..standard
        };
        assert_eq!(offers(&[inactive, express], usd(100)).len(), 1);
    }

    #[test]
    fn the_cart_s_outlook_names_the_cheapest_option_and_the_nearest_free_threshold() {
        let standard = rate(
            1,
            "Standard",
            1,
            RatePrice::new(usd(500), Some(usd(7500))).unwrap(),
        );
        let express = rate(2, "Express", 2, RatePrice::new(usd(1500), None).unwrap());
        let rates = [standard, express];
        assert_eq!(
            ShippingOutlook::of(&rates, usd(2400), true),
            ShippingOutlook::From {
                from: usd(500),
                free_over: Some(usd(7500))
            }
        );
        assert_eq!(
            ShippingOutlook::of(&rates, usd(8000), true),
            ShippingOutlook::Free
        );
        assert_eq!(
            ShippingOutlook::of(&rates, usd(2400), false),
            ShippingOutlook::NotNeeded
        );
        assert_eq!(
            ShippingOutlook::of(&[], usd(2400), true),
            ShippingOutlook::Free
        );
    }

    #[test]
    fn at_most_five_options_are_offered() {
        let rates: Vec<ShippingRate> = (0..7)
            .map(|i| rate(i, "Rate", i as i32, RatePrice::new(usd(100), None).unwrap()))
            .collect();
        assert_eq!(offers(&rates, usd(100)).len(), MAX_SHIPPING_OPTIONS);
    }

    #[test]
    fn rate_forms_are_parsed_exactly_or_refused_with_the_field() {
        let form = ShippingRateForm {
            display_name: " Standard ",
            min_business_days: "3",
            max_business_days: "5",
            active: true,
            position: 1,
            prices: vec![("usd", "5.00", "75"), ("JPY", "700", "")],
        };
        let draft = ShippingRateDraft::parse(&form).unwrap();
        assert_eq!(draft.display_name, "Standard");
        assert_eq!(draft.delivery.unwrap().to_string(), "3–5 business days");
        assert_eq!(draft.prices[0].amount(), usd(500));
        assert_eq!(draft.prices[0].free_over(), Some(usd(7500)));
        assert_eq!(draft.prices[1].amount().minor(), 700);
        let refused = |change: fn(&mut ShippingRateForm<'static>)| {
            let mut bad = ShippingRateForm {
                display_name: "Standard",
                prices: vec![("USD", "5.00", "")],
                ..Default::default()
            };
            change(&mut bad);
            ShippingRateDraft::parse(&bad).unwrap_err().field
        };
        assert_eq!(refused(|f| f.display_name = " "), "display_name");
        assert_eq!(refused(|f| f.min_business_days = "5"), "delivery");
        assert_eq!(
            refused(|f| {
                f.min_business_days = "5";
                f.max_business_days = "3";
            }),
            "delivery"
        );
        assert_eq!(refused(|f| f.prices = vec![("USD", "5.001", "")]), "prices");
        assert_eq!(refused(|f| f.prices = vec![("JPY", "7.5", "")]), "prices");
        assert_eq!(refused(|f| f.prices = vec![("XYZ", "5", "")]), "prices");
        assert_eq!(
            refused(|f| f.prices = vec![("USD", "5", ""), ("usd", "6", "")]),
            "prices"
        );
        assert_eq!(
            refused(|f| f.prices = vec![("USD", "1000000", "")]),
            "prices"
        );
        assert_eq!(refused(|f| f.prices = vec![]), "prices");
    }
}
