//! Money as integer minor units plus an ISO currency. No floats anywhere:
//! arithmetic is checked integer arithmetic, and `rust_decimal` is used only at
//! the edges (parsing "42.99").

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The currencies Storefront sells in. The `products` table accepts only
/// these (migration `supported_currencies`): add a new one there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Jpy,
}

impl Currency {
    /// Every currency we sell in, in the order the back office lists them.
    pub const ALL: [Currency; 4] = [Currency::Usd, Currency::Eur, Currency::Gbp, Currency::Jpy];

    /// Digits after the decimal point in the currency's minor unit (ISO 4217).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Usd | Currency::Eur | Currency::Gbp => 2,
        }
    }

    /// Stripe's smallest charge in this currency, in minor units: it
    /// refuses to charge less.
    pub fn minimum_charge(self) -> i64 {
        match self {
            Currency::Usd | Currency::Eur | Currency::Jpy => 50,
            Currency::Gbp => 30,
        }
    }

    /// Stripe's largest charge, in minor units (`amount_too_large` above it):
    /// 99,999,999 of the minor unit, in every currency we sell in.
    pub fn maximum_charge(self) -> i64 {
        99_999_999
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Jpy => "JPY",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Jpy => "¥",
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "USD" => Ok(Currency::Usd),
            "EUR" => Ok(Currency::Eur),
            "GBP" => Ok(Currency::Gbp),
            "JPY" => Ok(Currency::Jpy),
            _ => Err(MoneyError::UnsupportedCurrency(s.to_owned())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is too large")]
    Overflow,
    #[error("cannot combine {0} and {1} amounts")]
    CurrencyMismatch(Currency, Currency),
    #[error("unsupported currency {0:?}")]
    UnsupportedCurrency(String),
    #[error("{0:?} is not a valid amount")]
    Invalid(String),
    #[error("{currency} amounts {}", decimals_allowed(*exponent))]
    TooPrecise { currency: Currency, exponent: u32 },
    #[error("the amount must not be negative")]
    Negative,
}

/// How many decimals a currency's amounts may have, in words.
fn decimals_allowed(exponent: u32) -> String {
    match exponent {
        0 => "are whole numbers, without decimals".to_owned(),
        1 => "have at most 1 decimal place".to_owned(),
        n => format!("have at most {n} decimal places"),
    }
}

/// An amount in a currency's minor unit (cents, pence, yen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Parses a decimal amount such as "42.99" exactly, refusing more decimal
    /// places than the currency has ("42.999" USD, "1.5" JPY).
    pub fn parse_decimal(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::Invalid(amount.to_owned());
        let trimmed = amount.trim();
        // Plain digits with an optional fraction only: no exponents, signs or spaces.
        let well_formed = !trimmed.is_empty()
            && trimmed.split('.').count() <= 2
            && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !trimmed.starts_with('.')
            && !trimmed.ends_with('.');
        if trimmed.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        if !well_formed {
            return Err(invalid());
        }
        let value = Decimal::from_str_exact(trimmed).map_err(|_| invalid())?;
        let exponent = currency.exponent();
        if value.normalize().scale() > exponent {
            return Err(MoneyError::TooPrecise { currency, exponent });
        }
        let scaled = value
            .checked_mul(Decimal::from(10_i64.pow(exponent)))
            .ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)?;
        Money::new(minor, currency)
    }
}

impl Money {
    /// The amount as an exact decimal string in the currency's unit:
    /// "42.99" for 4299 US cents, "4300" for 4300 yen. No floats.
    pub fn decimal(self) -> String {
        let exponent = self.currency.exponent();
        let unit = 10_i64.pow(exponent);
        let (whole, fraction) = (self.minor / unit, self.minor % unit);
        if exponent == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{fraction:0width$}", width = exponent as usize)
        }
    }
}

impl fmt::Display for Money {
    /// "$1,234.56", "¥4,300".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let unit = 10_i64.pow(exponent);
        let whole = self.minor / unit;
        let fraction = self.minor % unit;
        let digits = whole.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        f.write_str(self.currency.symbol())?;
        f.write_str(&grouped)?;
        if exponent > 0 {
            write!(f, ".{fraction:0width$}", width = exponent as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }

    #[test]
    fn decimal_strings_follow_the_currency_exponent() {
        assert_eq!(usd(4299).decimal(), "42.99");
        assert_eq!(usd(5).decimal(), "0.05");
        assert_eq!(usd(100).decimal(), "1.00");
        assert_eq!(Money::new(4300, Currency::Jpy).unwrap().decimal(), "4300");
    }

    #[test]
    fn formats_with_symbol_grouping_and_exponent() {
        assert_eq!(usd(0).to_string(), "$0.00");
        assert_eq!(usd(5).to_string(), "$0.05");
        assert_eq!(usd(4299).to_string(), "$42.99");
        assert_eq!(usd(123_456_789).to_string(), "$1,234,567.89");
        assert_eq!(
            Money::new(4300, Currency::Jpy).unwrap().to_string(),
            "¥4,300"
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(usd(250).checked_mul(3).unwrap(), usd(750));
        assert_eq!(usd(250).checked_add(usd(1)).unwrap(), usd(251));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MAX / 2).checked_mul(3), Err(MoneyError::Overflow));
        let eur = Money::new(1, Currency::Eur).unwrap();
        assert_eq!(
            usd(1).checked_add(eur),
            Err(MoneyError::CurrencyMismatch(Currency::Usd, Currency::Eur))
        );
        assert_eq!(Money::new(-1, Currency::Usd), Err(MoneyError::Negative));
    }

    #[test]
    fn parses_decimal_amounts_exactly() {
        assert_eq!(Money::parse_decimal("42.99", Currency::Usd), Ok(usd(4299)));
        assert_eq!(Money::parse_decimal("42.9", Currency::Usd), Ok(usd(4290)));
        assert_eq!(Money::parse_decimal("42", Currency::Usd), Ok(usd(4200)));
        assert_eq!(Money::parse_decimal("42.990", Currency::Usd), Ok(usd(4299)));
        assert_eq!(Money::parse_decimal("0.1", Currency::Usd), Ok(usd(10)));
        assert_eq!(
            Money::parse_decimal("4300", Currency::Jpy),
            Money::new(4300, Currency::Jpy)
        );
    }

    #[test]
    fn rejects_malformed_or_too_precise_amounts() {
        for bad in [
            "", "abc", "1e3", "1.2.3", ".5", "5.", "+1", " 1 2", "0x10", "NaN",
        ] {
            assert!(
                matches!(
                    Money::parse_decimal(bad, Currency::Usd),
                    Err(MoneyError::Invalid(_))
                ),
                "{bad:?} should be invalid"
            );
        }
        assert_eq!(
            Money::parse_decimal("-1", Currency::Usd),
            Err(MoneyError::Negative)
        );
        assert!(matches!(
            Money::parse_decimal("42.999", Currency::Usd),
            Err(MoneyError::TooPrecise { exponent: 2, .. })
        ));
        assert!(matches!(
            Money::parse_decimal("1.5", Currency::Jpy),
            Err(MoneyError::TooPrecise { exponent: 0, .. })
        ));
        assert_eq!(
            Money::parse_decimal("99999999999999999999", Currency::Usd),
            Err(MoneyError::Overflow)
        );
    }
}
