//! Checkout's arithmetic, in integer minor units: a coupon's discount spread
//! over the line items, the simulator's deterministic test tax, and the
//! totals a Checkout Session reports.

/// A price's or shipping rate's `tax_behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxBehavior {
    Exclusive,
    Inclusive,
    /// Treated as exclusive: the simulated account's default tax behavior.
    Unspecified,
}

impl TaxBehavior {
    pub const NAMES: &'static [&'static str] = &["exclusive", "inclusive", "unspecified"];

    pub fn parse(name: &str) -> Self {
        match name {
            "exclusive" => TaxBehavior::Exclusive,
            "inclusive" => TaxBehavior::Inclusive,
            _ => TaxBehavior::Unspecified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaxBehavior::Exclusive => "exclusive",
            TaxBehavior::Inclusive => "inclusive",
            TaxBehavior::Unspecified => "unspecified",
        }
    }
}

/// "20" or "12.5": basis points as a percentage for people.
pub fn percent_text(basis_points: i64) -> String {
    let fraction = format!("{:02}", basis_points % 100);
    match fraction.trim_end_matches('0') {
        "" => format!("{}", basis_points / 100),
        digits => format!("{}.{digits}", basis_points / 100),
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Off {
    /// In basis points: 12.5% is 1250.
    Percent(i64),
    /// In minor units of the coupon's currency.
    Amount(i64),
}

/// The test tax of one destination.
#[derive(Debug, PartialEq, Eq)]
pub struct TaxRate {
    pub country: &'static str,
    pub state: Option<&'static str>,
    /// 19% is 1900.
    pub basis_points: i64,
    pub display_name: &'static str,
    pub tax_type: &'static str,
}

const fn rate(
    country: &'static str,
    state: Option<&'static str>,
    basis_points: i64,
    display_name: &'static str,
    tax_type: &'static str,
) -> TaxRate {
    TaxRate {
        country,
        state,
        basis_points,
        display_name,
        tax_type,
    }
}

/// The simulator's tax table: by country, and by state in the US. Anywhere
/// else the rate is 0% (nothing is collected).
static TAX_RATES: &[TaxRate] = &[
    rate("GB", None, 2000, "VAT", "vat"),
    rate("DE", None, 1900, "VAT", "vat"),
    rate("FR", None, 2000, "VAT", "vat"),
    rate("JP", None, 1000, "JCT", "jct"),
    rate("US", Some("CA"), 725, "Sales tax", "sales_tax"),
    rate("US", Some("NY"), 400, "Sales tax", "sales_tax"),
    rate("US", Some("TX"), 625, "Sales tax", "sales_tax"),
    rate("US", Some("WA"), 650, "Sales tax", "sales_tax"),
];

/// The rate for a destination, if the simulator collects tax there.
pub fn tax_rate(country: &str, state: Option<&str>) -> Option<&'static TaxRate> {
    TAX_RATES
        .iter()
        .find(|r| r.country == country && r.state.is_none_or(|s| Some(s) == state))
}

/// One priced line: a line item, or the shipping.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub amount: i64,
    pub tax_behavior: TaxBehavior,
}

/// What became of a [`Line`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineQuote {
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    /// `subtotal - discount`, plus the tax when it is exclusive.
    pub total: i64,
    /// What the rate applied to: the discounted amount, less the tax when inclusive.
    pub taxable: i64,
    pub inclusive: bool,
}

/// A session's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quote {
    pub items: Vec<LineQuote>,
    pub shipping: Option<LineQuote>,
    /// The line items before discount (inclusive taxes included).
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_amount: i64,
    /// Every tax, inclusive ones included.
    pub tax: i64,
    pub total: i64,
}

/// `n / d` rounded half up, for non-negative `n` and positive `d`.
fn div_round(n: i64, d: i64) -> i64 {
    (2 * n + d) / (2 * d)
}

/// The discount of each item: a percentage of each, or an amount spread in
/// proportion to the items (the remainder of the division going to the
/// first ones), never more than the items come to.
fn discounts(amounts: &[i64], off: Option<Off>) -> Vec<i64> {
    match off {
        None => vec![0; amounts.len()],
        Some(Off::Percent(bp)) => amounts.iter().map(|a| div_round(a * bp, 10_000)).collect(),
        Some(Off::Amount(off)) => {
            let total: i64 = amounts.iter().sum();
            if total == 0 {
                return vec![0; amounts.len()];
            }
            let off = off.min(total);
            let mut shares: Vec<i64> = amounts.iter().map(|a| a * off / total).collect();
            let mut left = off - shares.iter().sum::<i64>();
            for (share, amount) in shares.iter_mut().zip(amounts) {
                if left == 0 {
                    break;
                }
                if *share < *amount {
                    *share += 1;
                    left -= 1;
                }
            }
            shares
        }
    }
}

fn price_line(
    subtotal: i64,
    discount: i64,
    behavior: TaxBehavior,
    rate: Option<&TaxRate>,
) -> LineQuote {
    let gross = subtotal - discount;
    let inclusive = behavior == TaxBehavior::Inclusive;
    let tax = match rate {
        None => 0,
        Some(rate) if inclusive => gross - div_round(gross * 10_000, 10_000 + rate.basis_points),
        Some(rate) => div_round(gross * rate.basis_points, 10_000),
    };
    LineQuote {
        subtotal,
        discount,
        tax,
        total: if inclusive { gross } else { gross + tax },
        taxable: if inclusive { gross - tax } else { gross },
        inclusive,
    }
}

/// Prices a session: the discount applies to the items (not the shipping),
/// then the tax to what is left of each line, shipping included.
pub fn quote(
    items: &[Line],
    off: Option<Off>,
    shipping: Option<Line>,
    rate: Option<&TaxRate>,
) -> Quote {
    let amounts: Vec<i64> = items.iter().map(|l| l.amount).collect();
    let items: Vec<LineQuote> = items
        .iter()
        .zip(discounts(&amounts, off))
        .map(|(line, discount)| price_line(line.amount, discount, line.tax_behavior, rate))
        .collect();
    let shipping = shipping.map(|line| price_line(line.amount, 0, line.tax_behavior, rate));
    let lines = || items.iter().chain(&shipping);
    Quote {
        subtotal: items.iter().map(|q| q.subtotal).sum(),
        discount: items.iter().map(|q| q.discount).sum(),
        shipping_amount: shipping.map_or(0, |q| q.subtotal),
        tax: lines().map(|q| q.tax).sum(),
        total: lines().map(|q| q.total).sum(),
        shipping,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(amount: i64, tax_behavior: TaxBehavior) -> Line {
        Line {
            amount,
            tax_behavior,
        }
    }

    #[test]
    fn percentages_read_naturally() {
        assert_eq!(percent_text(2000), "20");
        assert_eq!(percent_text(725), "7.25");
        assert_eq!(percent_text(1250), "12.5");
    }

    #[test]
    fn the_table_has_country_and_state_rates() {
        assert_eq!(tax_rate("DE", None).unwrap().basis_points, 1900);
        assert_eq!(tax_rate("GB", Some("London")).unwrap().basis_points, 2000);
        assert_eq!(tax_rate("US", Some("CA")).unwrap().basis_points, 725);
        assert_eq!(tax_rate("US", Some("OR")), None);
        assert_eq!(tax_rate("US", None), None);
        assert_eq!(tax_rate("NL", None), None);
    }

    #[test]
    fn amounts_off_are_spread_in_proportion_and_add_up() {
        assert_eq!(discounts(&[1000, 2000], Some(Off::Amount(300))), [100, 200]);
        assert_eq!(discounts(&[1, 1, 1], Some(Off::Amount(2))), [1, 1, 0]);
        assert_eq!(discounts(&[500, 700], Some(Off::Amount(5000))), [500, 700]);
        assert_eq!(discounts(&[999, 1], Some(Off::Percent(1250))), [125, 0]);
    }

    #[test]
    fn exclusive_tax_is_added_and_inclusive_tax_is_inside_the_price() {
        let gb = tax_rate("GB", None);
        let exclusive = quote(&[line(1000, TaxBehavior::Exclusive)], None, None, gb);
        assert_eq!((exclusive.tax, exclusive.total), (200, 1200));
        let inclusive = quote(&[line(1200, TaxBehavior::Inclusive)], None, None, gb);
        assert_eq!((inclusive.tax, inclusive.total), (200, 1200));
        assert_eq!(inclusive.items[0].taxable, 1000);
        // Unspecified counts as exclusive.
        let unspecified = quote(&[line(1000, TaxBehavior::Unspecified)], None, None, gb);
        assert_eq!(unspecified.total, 1200);
    }

    #[test]
    fn discounts_come_off_the_items_before_tax_and_shipping_is_taxed() {
        let de = tax_rate("DE", None);
        let q = quote(
            &[
                line(2000, TaxBehavior::Exclusive),
                line(1000, TaxBehavior::Exclusive),
            ],
            Some(Off::Percent(1000)),
            Some(line(500, TaxBehavior::Exclusive)),
            de,
        );
        assert_eq!(
            (q.subtotal, q.discount, q.shipping_amount),
            (3000, 300, 500)
        );
        // 19% of 1800, 900 and 500.
        assert_eq!(
            q.items.iter().map(|i| i.tax).collect::<Vec<_>>(),
            [342, 171]
        );
        assert_eq!(q.shipping.unwrap().tax, 95);
        assert_eq!(q.tax, 608);
        assert_eq!(q.total, 3000 - 300 + 500 + 608);
        // Without tax the totals are plain sums.
        let plain = quote(&[line(2500, TaxBehavior::Unspecified)], None, None, None);
        assert_eq!((plain.subtotal, plain.tax, plain.total), (2500, 0, 2500));
    }
}
