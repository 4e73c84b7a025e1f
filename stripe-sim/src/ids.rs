//! Object ids shaped like Stripe's: a type prefix and random alphanumerics.

use rand::Rng;
use rand::distr::Alphanumeric;

fn random(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Checkout Session ids are the long ones (66 characters in total).
pub fn checkout_session() -> String {
    format!("cs_test_{}", random(58))
}

/// Most objects: `pi_`, `ch_`, `pm_`, `re_`, `evt_`, `we_`, `li_`, `price_`.
pub fn object(prefix: &str) -> String {
    format!("{prefix}_{}", random(24))
}

/// Customers and products have the short 14-character form (`cus_QXg1o8vcGmoR32`).
pub fn short(prefix: &str) -> String {
    format!("{prefix}_{}", random(14))
}

/// Coupon ids and generated promotion codes: eight capitals and digits.
pub fn code() -> String {
    random(8).to_ascii_uppercase()
}

pub fn request() -> String {
    short("req")
}

pub fn webhook_secret() -> String {
    format!("whsec_{}", random(32))
}

pub fn client_secret(payment_intent: &str) -> String {
    format!("{payment_intent}_secret_{}", random(25))
}

pub fn fingerprint() -> String {
    random(16)
}
