//! Pure cart rules: quantities, stock, totals, and why a change is refused.

use crate::catalog::domain::Product;
use crate::money::{Money, MoneyError};

/// Most units of one product a cart line may hold.
pub const MAX_LINE_QUANTITY: u32 = 99;

/// A validated quantity, `0..=MAX_LINE_QUANTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    /// For adding to the cart: a whole number from 1 to 99.
    pub fn parse_positive(raw: &str) -> Result<Quantity, String> {
        match Self::parse(raw) {
            Some(q) if q.0 > 0 => Ok(q),
            _ => Err(format!(
                "Please enter a quantity from 1 to {MAX_LINE_QUANTITY}."
            )),
        }
    }

    /// For changing a cart line: 0 removes it.
    pub fn parse_allowing_zero(raw: &str) -> Result<Quantity, String> {
        Self::parse(raw).ok_or_else(|| {
            format!("Please enter a quantity from 0 to {MAX_LINE_QUANTITY} (0 removes the item).")
        })
    }

    fn parse(raw: &str) -> Option<Quantity> {
        let raw = raw.trim();
        // Digits only: no signs, exponents or decimals; length-capped before parsing.
        if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = raw.parse().ok()?;
        (n <= MAX_LINE_QUANTITY).then_some(Quantity(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One product line in the cart, with its product as it is now.
#[derive(Debug, Clone)]
pub struct CartLine {
    pub item_id: i64,
    pub product: Product,
    pub quantity: u32,
}

impl CartLine {
    /// Still sold: active and not sold out.
    pub fn purchasable(&self) -> bool {
        self.product.active && !self.product.sold_out()
    }

    /// How many are left, when that is fewer than the line holds (but some).
    pub fn fewer_left(&self) -> Option<u32> {
        let left = u32::try_from(self.product.stock?).unwrap_or(0);
        (left > 0 && left < self.quantity).then_some(left)
    }
}

/// A cart line with its computed total.
#[derive(Debug, Clone)]
pub struct PricedLine {
    pub line: CartLine,
    pub total: Money,
}

/// Why the cart refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    ProductNotFound,
    ItemNotFound,
    NotEnoughStock {
        product: String,
        available: u32,
        in_cart: u32,
    },
    LineLimit {
        in_cart: u32,
    },
    CurrencyMismatch,
    /// Refused, but no rule explains it on a second look: the cart or the
    /// product changed in between.
    Changed,
}

/// Whether the product's stock allows `wanted` units in a line that holds
/// `in_cart` (for the message).
pub fn check_stock(product: &Product, wanted: u32, in_cart: u32) -> Result<(), Refusal> {
    match product.stock {
        Some(stock) if wanted > u32::try_from(stock).unwrap_or(0) => Err(Refusal::NotEnoughStock {
            product: product.name.clone(),
            available: u32::try_from(stock).unwrap_or(0),
            in_cart,
        }),
        _ => Ok(()),
    }
}

/// True when the purchasable lines are priced in more than one currency.
pub fn mixed_currencies(lines: &[CartLine]) -> bool {
    let mut currencies = lines
        .iter()
        .filter(|line| line.purchasable())
        .map(|line| line.product.price().currency());
    currencies
        .next()
        .is_some_and(|first| currencies.any(|other| other != first))
}

/// The cart as shown and checked out: lines with totals, and the subtotal of
/// the purchasable lines (`None` when there are none, or when they are priced
/// in different currencies and cannot be added up).
#[derive(Debug, Clone)]
pub struct CartSummary {
    pub lines: Vec<PricedLine>,
    pub subtotal: Option<Money>,
    pub mixed_currencies: bool,
}

impl CartSummary {
    pub fn new(lines: Vec<CartLine>) -> Result<CartSummary, MoneyError> {
        let mixed_currencies = mixed_currencies(&lines);
        let mut subtotal: Option<Money> = None;
        let mut priced = Vec::with_capacity(lines.len());
        for line in lines {
            let total = line.product.price().checked_mul(line.quantity)?;
            if line.purchasable() && !mixed_currencies {
                subtotal = Some(match subtotal {
                    Some(sum) => sum.checked_add(total)?,
                    None => total,
                });
            }
            priced.push(PricedLine { line, total });
        }
        Ok(CartSummary {
            lines: priced,
            subtotal,
            mixed_currencies,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Stripe's largest charge, when the subtotal is above it: the cart
    /// cannot be paid in one payment.
    pub fn above_maximum_charge(&self) -> Option<Money> {
        let subtotal = self.subtotal?;
        let currency = subtotal.currency();
        (subtotal.minor() > currency.maximum_charge())
            .then(|| Money::new(currency.maximum_charge(), currency).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_quantities_are_whole_numbers_from_1_to_99() {
        assert_eq!(Quantity::parse_positive("1").unwrap().get(), 1);
        assert_eq!(Quantity::parse_positive(" 99 ").unwrap().get(), 99);
        assert_eq!(Quantity::parse_positive("007").unwrap().get(), 7);
        for bad in [
            "0",
            "-1",
            "100",
            "1000000000000",
            "abc",
            "",
            "1.5",
            "1e2",
            "+1",
            "٣",
        ] {
            assert!(Quantity::parse_positive(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn changing_a_line_allows_zero() {
        assert_eq!(Quantity::parse_allowing_zero("0").unwrap().get(), 0);
        assert!(Quantity::parse_allowing_zero("-1").is_err());
        assert!(Quantity::parse_allowing_zero("100").is_err());
    }
}
