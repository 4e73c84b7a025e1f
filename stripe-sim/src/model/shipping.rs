//! Shipping rates and the addresses Checkout collects.

use serde_json::{Map, Value, json};

use crate::pricing::TaxBehavior;

/// One end of a delivery estimate: `unit` is `business_day`, `day`, `hour`,
/// `week` or `month`.
#[derive(Debug, Clone)]
pub struct Bound {
    pub unit: &'static str,
    pub value: i64,
}

#[derive(Debug, Clone)]
pub struct ShippingRate {
    pub id: String,
    pub created: i64,
    pub display_name: String,
    pub amount: i64,
    pub currency: String,
    pub tax_behavior: TaxBehavior,
    pub minimum: Option<Bound>,
    pub maximum: Option<Bound>,
    pub metadata: Map<String, Value>,
}

impl ShippingRate {
    /// "5–7 business days", for the payment page.
    pub fn estimate(&self) -> Option<String> {
        let describe = |b: &Bound| {
            let unit = b.unit.replace('_', " ");
            if b.value == 1 {
                format!("1 {unit}")
            } else {
                format!("{} {unit}s", b.value)
            }
        };
        match (&self.minimum, &self.maximum) {
            (Some(min), Some(max)) if min.unit == max.unit => {
                let max = describe(max);
                Some(format!("{}–{max}", min.value))
            }
            (Some(min), Some(max)) => Some(format!("{} to {}", describe(min), describe(max))),
            (Some(min), None) => Some(format!("At least {}", describe(min))),
            (None, Some(max)) => Some(format!("Up to {}", describe(max))),
            (None, None) => None,
        }
    }

    pub fn to_json(&self) -> Value {
        let bound = |b: &Option<Bound>| {
            b.as_ref()
                .map(|b| json!({ "unit": b.unit, "value": b.value }))
        };
        let estimate = (self.minimum.is_some() || self.maximum.is_some())
            .then(|| json!({ "minimum": bound(&self.minimum), "maximum": bound(&self.maximum) }));
        json!({
            "id": self.id,
            "object": "shipping_rate",
            "active": true,
            "created": self.created,
            "delivery_estimate": estimate,
            "display_name": self.display_name,
            "fixed_amount": { "amount": self.amount, "currency": self.currency },
            "livemode": false,
            "metadata": self.metadata,
            "tax_behavior": self.tax_behavior.as_str(),
            "tax_code": null,
            "type": "fixed_amount",
        })
    }
}

/// A postal address; `country` is an ISO code and `state` a region code
/// where the country has listed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
}

impl Address {
    pub fn to_json(&self) -> Value {
        json!({
            "city": self.city, "country": self.country, "line1": self.line1,
            "line2": self.line2, "postal_code": self.postal_code, "state": self.state
        })
    }
}

/// The name and address goods are shipped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingDetails {
    pub name: String,
    pub address: Address,
}

impl ShippingDetails {
    /// The `shipping` hash of sessions (`shipping_details`), PaymentIntents and charges.
    pub fn to_json(&self) -> Value {
        json!({
            "address": self.address.to_json(), "carrier": null, "name": self.name,
            "phone": null, "tracking_number": null
        })
    }
}
