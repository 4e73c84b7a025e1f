//! Customers.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub invoice_prefix: String,
}

impl Customer {
    pub fn new(created: i64, email: Option<String>, name: Option<String>) -> Self {
        Self {
            id: crate::ids::short("cus"),
            created,
            email,
            name,
            phone: None,
            description: None,
            metadata: Map::new(),
            invoice_prefix: crate::ids::fingerprint()[..8].to_uppercase(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": self.created,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null, "default_payment_method": null,
                "footer": null, "rendering_options": null
            },
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "next_invoice_sequence": 1,
            "phone": self.phone,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null,
        })
    }
}
