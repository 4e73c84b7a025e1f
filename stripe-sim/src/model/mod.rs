//! The simulated objects and their JSON in Stripe's 2023-08-16 shapes: every field
//! of the spec's schema, `null` where Stripe has nothing to say. One module per resource.

mod customer;
mod event;
mod payment;
mod session;

use serde_json::{Value, json};

pub use customer::Customer;
pub use event::{Event, WebhookEndpoint};
pub use payment::{Card, Charge, PaymentIntent, PaymentMethod, Refund};
pub use session::{LineItem, Session, SessionStatus};

pub const API_VERSION: &str = "2023-08-16";

/// Everything that can be looked up by id in a `Vec`.
pub trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ty),*) => {$(
        impl HasId for $t {
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}

has_id!(
    Session,
    LineItem,
    PaymentIntent,
    Charge,
    Customer,
    PaymentMethod,
    Refund,
    Event,
    WebhookEndpoint
);

pub fn empty_address() -> Value {
    json!({
        "city": null, "country": null, "line1": null,
        "line2": null, "postal_code": null, "state": null
    })
}

pub fn billing_details(email: Option<&str>, name: Option<&str>) -> Value {
    json!({ "address": empty_address(), "email": email, "name": name, "phone": null })
}
