//! Money in integer minor units: Stripe's limits on amounts, and formatting
//! for people (the payment page, error messages).

/// Stripe's largest amount: eight digits of minor units, in any currency.
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Stripe's minimum charge in the currencies the simulator formats (others are
/// not checked).
pub fn minimum_charge(currency: &str) -> Option<i64> {
    match currency {
        "usd" | "eur" | "jpy" => Some(50),
        "gbp" => Some(30),
        _ => None,
    }
}

/// Currencies without minor units, per Stripe's currency list.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

fn exponent(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1234` usd → `$12.34`; `1200` jpy → `¥1,200`; unknown symbols use the code.
pub fn format(amount: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let scale = 10u64.pow(exp);
    let abs = amount.unsigned_abs();
    let major = group_thousands(&(abs / scale).to_string());
    let number = if exp == 0 {
        major
    } else {
        format!("{major}.{:0width$}", abs % scale, width = exp as usize)
    };
    let sign = if amount < 0 { "-" } else { "" };
    match currency {
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        "jpy" => format!("{sign}¥{number}"),
        other => format!("{sign}{number} {}", other.to_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn formats_by_exponent() {
        assert_eq!(format(1234, "usd"), "$12.34");
        assert_eq!(format(5, "eur"), "€0.05");
        assert_eq!(format(123_456_789, "gbp"), "£1,234,567.89");
        assert_eq!(format(1200, "jpy"), "¥1,200");
        assert_eq!(format(1500, "kwd"), "1.500 KWD");
        assert_eq!(format(-250, "sek"), "-2.50 SEK");
    }
}
