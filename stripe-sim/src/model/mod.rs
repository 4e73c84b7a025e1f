//! The simulated objects and their JSON in Stripe's 2023-08-16 shapes: every field
//! of the spec's schema, `null` where Stripe has nothing to say. One module per resource.

mod customer;
mod discount;
mod event;
mod payment;
mod session;
mod shipping;

use serde_json::{Value, json};

use crate::store::Record;

pub use customer::Customer;
pub use discount::{AppliedDiscount, Coupon, PromotionCode, percent};
pub use event::{Event, WebhookEndpoint};
pub use payment::{Card, Charge, ChargeStatus, Instrument, PaymentIntent, PaymentMethod, Refund};
pub use session::{Choices, LineItem, Payment, Session, SessionStatus};
pub use shipping::{Address, Bound, ShippingDetails, ShippingRate};

pub const API_VERSION: &str = "2023-08-16";

/// Implements [`Record`] from the `id` and `created` fields, with the
/// secondary index keys computed by the optional closure-like expression.
macro_rules! record {
    ($t:ty $(, |$row:ident| $keys:expr)?) => {
        impl Record for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn created(&self) -> i64 {
                self.created
            }
            $(fn index_keys(&self) -> Vec<(&'static str, &str)> {
                let $row = self;
                $keys
            })?
        }
    };
}

fn key<'a>(name: &'static str, value: Option<&'a String>) -> Option<(&'static str, &'a str)> {
    value.map(|v| (name, v.as_str()))
}

record!(Session, |s| key("customer", s.customer.as_ref())
    .into_iter()
    .chain(key("payment_intent", s.payment_intent.as_ref()))
    .collect());
record!(Customer, |c| key("email", c.email.as_ref())
    .into_iter()
    .collect());
record!(PaymentMethod, |pm| key("customer", pm.customer.as_ref())
    .into_iter()
    .collect());
record!(PaymentIntent, |pi| key("customer", pi.customer.as_ref())
    .into_iter()
    .collect());
record!(Charge, |c| vec![(
    "payment_intent",
    c.payment_intent.as_str()
)]);
record!(Refund, |r| vec![
    ("charge", r.charge.as_str()),
    ("payment_intent", r.payment_intent.as_str())
]);
record!(Event);
record!(Coupon);
record!(PromotionCode, |p| vec![("coupon", p.coupon.as_str())]);
record!(ShippingRate);
record!(WebhookEndpoint);

pub fn empty_address() -> Value {
    json!({
        "city": null, "country": null, "line1": null,
        "line2": null, "postal_code": null, "state": null
    })
}

pub fn billing_details(email: Option<&str>, name: Option<&str>) -> Value {
    json!({ "address": empty_address(), "email": email, "name": name, "phone": null })
}
