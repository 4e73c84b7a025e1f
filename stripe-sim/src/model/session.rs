//! Checkout Sessions and their line items.

use serde_json::{Map, Value, json};

use super::discount::AppliedDiscount;
use super::empty_address;
use super::shipping::{Address, ShippingDetails, ShippingRate};
use crate::pricing::{self, Line, LineQuote, Quote, TaxBehavior, TaxRate};

#[derive(Debug, Clone)]
pub struct LineItem {
    pub id: String,
    pub price_id: String,
    pub product_id: String,
    pub name: String,
    /// `product_data[description]`, shown on the payment page.
    pub description: Option<String>,
    pub currency: String,
    pub unit_amount: i64,
    pub quantity: i64,
    /// `unit_amount * quantity`, checked when the session is created.
    pub amount: i64,
    pub tax_behavior: TaxBehavior,
    pub created: i64,
}

impl LineItem {
    /// `quote` is this item's line of the session's [`Quote`].
    pub fn to_json(&self, quote: &LineQuote) -> Value {
        json!({
            "id": self.id,
            "object": "item",
            "amount_discount": quote.discount,
            "amount_subtotal": quote.subtotal,
            "amount_tax": quote.tax,
            "amount_total": quote.total,
            "currency": self.currency,
            "description": self.name,
            "price": {
                "id": self.price_id,
                "object": "price",
                "active": false,
                "billing_scheme": "per_unit",
                "created": self.created,
                "currency": self.currency,
                "custom_unit_amount": null,
                "livemode": false,
                "lookup_key": null,
                "metadata": {},
                "nickname": null,
                "product": self.product_id,
                "recurring": null,
                "tax_behavior": self.tax_behavior.as_str(),
                "tiers_mode": null,
                "transform_quantity": null,
                "type": "one_time",
                "unit_amount": self.unit_amount,
                "unit_amount_decimal": self.unit_amount.to_string(),
            },
            "quantity": self.quantity,
        })
    }
}

/// A rate of the test tax as a `tax_rate` object.
fn tax_rate_json(rate: &TaxRate, inclusive: bool, created: i64) -> Value {
    let place = format!("{}{}", rate.country, rate.state.unwrap_or_default());
    let id = format!("txr_sim{place}{}", if inclusive { "Incl" } else { "Excl" });
    json!({
        "id": id,
        "object": "tax_rate",
        "active": true,
        "country": rate.country,
        "created": created,
        "description": null,
        "display_name": rate.display_name,
        "effective_percentage": super::percent(rate.basis_points),
        "inclusive": inclusive,
        "jurisdiction": place,
        "livemode": false,
        "metadata": {},
        "percentage": super::percent(rate.basis_points),
        "state": rate.state,
        "tax_type": rate.tax_type,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

/// Where the money of a session stands; `payment_status` shows `paid` or `unpaid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    Unpaid,
    /// A bank debit was submitted and has not settled yet.
    Processing,
    Paid,
    /// The bank debit failed after the session completed.
    Failed,
}

/// What the customer chose on the payment page. Until the session completes
/// it holds the defaults: the first shipping option and the `discounts` given
/// at creation.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub shipping_rate: Option<String>,
    pub shipping: Option<ShippingDetails>,
    /// Asked for only when tax needs a location and no shipping address is collected.
    pub billing_address: Option<Address>,
    pub discount: Option<AppliedDiscount>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub status: SessionStatus,
    pub payment: Payment,
    pub currency: String,
    pub line_items: Vec<LineItem>,
    pub url: String,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub customer_creation: &'static str,
    /// Email and name entered on the payment page, once complete.
    pub customer_details: Option<(String, Option<String>)>,
    pub metadata: Map<String, Value>,
    pub locale: Option<&'static str>,
    pub submit_type: Option<&'static str>,
    pub payment_method_types: Vec<String>,
    pub setup_future_usage: Option<&'static str>,
    pub payment_intent_metadata: Map<String, Value>,
    pub payment_intent_description: Option<String>,
    pub allow_promotion_codes: Option<bool>,
    pub automatic_tax: bool,
    /// `shipping_address_collection[allowed_countries]`.
    pub shipping_countries: Option<Vec<String>>,
    /// The shipping rates offered, as they were when the session was created.
    pub shipping_options: Vec<ShippingRate>,
    pub choices: Choices,
    /// Created at the first payment attempt, shown once the session is complete.
    pub payment_intent: Option<String>,
    /// The card (PaymentMethod id) waiting on the simulated 3D Secure page,
    /// and what the customer chose with it.
    pub pending_authentication: Option<(String, Choices)>,
}

impl Session {
    /// Nothing will change it any more: expired, or complete and settled.
    pub fn is_final(&self) -> bool {
        match self.status {
            SessionStatus::Open => false,
            SessionStatus::Expired => true,
            SessionStatus::Complete => self.payment != Payment::Processing,
        }
    }

    pub fn shipping_rate(&self, choices: &Choices) -> Option<&ShippingRate> {
        let id = choices.shipping_rate.as_deref()?;
        self.shipping_options.iter().find(|r| r.id == id)
    }

    /// The test tax rate for the customer's address, when automatic tax is on.
    pub fn tax_rate(&self, choices: &Choices) -> Option<&'static TaxRate> {
        if !self.automatic_tax {
            return None;
        }
        let address = match &choices.shipping {
            Some(shipping) => &shipping.address,
            None => choices.billing_address.as_ref()?,
        };
        pricing::tax_rate(&address.country, address.state.as_deref())
    }

    /// Whether the tax is known: off, or on with an address to compute it from.
    pub fn tax_located(&self, choices: &Choices) -> bool {
        !self.automatic_tax || choices.shipping.is_some() || choices.billing_address.is_some()
    }

    /// The session's totals with these choices.
    pub fn quote(&self, choices: &Choices) -> Quote {
        let items: Vec<Line> = self
            .line_items
            .iter()
            .map(|item| Line {
                amount: item.amount,
                tax_behavior: item.tax_behavior,
            })
            .collect();
        let shipping = self.shipping_rate(choices).map(|rate| Line {
            amount: rate.amount,
            tax_behavior: rate.tax_behavior,
        });
        let off = choices.discount.as_ref().map(|d| d.coupon.off);
        pricing::quote(&items, off, shipping, self.tax_rate(choices))
    }

    /// What the customer pays.
    pub fn amount_total(&self) -> i64 {
        self.quote(&self.choices).total
    }

    pub fn to_json(&self) -> Value {
        let open = self.status == SessionStatus::Open;
        let complete = self.status == SessionStatus::Complete;
        let choices = &self.choices;
        let quote = self.quote(choices);
        let customer_details = self.customer_details.as_ref().map(|(email, name)| {
            let address = choices
                .billing_address
                .as_ref()
                .or(choices.shipping.as_ref().map(|s| &s.address))
                .map_or_else(empty_address, Address::to_json);
            json!({
                "address": address, "email": email, "name": name,
                "phone": null, "tax_exempt": "none", "tax_ids": []
            })
        });
        let payment_intent = self.payment_intent.as_ref().filter(|_| complete);
        let tax_status = match (self.automatic_tax, self.tax_located(choices)) {
            (false, _) => None,
            (true, true) => Some("complete"),
            (true, false) => Some("requires_location_inputs"),
        };
        let shipping_cost = self
            .shipping_rate(choices)
            .zip(quote.shipping)
            .map(|(rate, q)| {
                json!({
                    "amount_subtotal": q.subtotal, "amount_tax": q.tax,
                    "amount_total": q.total, "shipping_rate": rate.id
                })
            });
        let shipping_options: Vec<Value> = self
            .shipping_options
            .iter()
            .map(|rate| json!({ "shipping_amount": rate.amount, "shipping_rate": rate.id }))
            .collect();
        let shipping_details = choices.shipping.as_ref().filter(|_| complete);
        let discounts = choices
            .discount
            .as_ref()
            .map(|d| json!([{ "coupon": d.coupon.id, "promotion_code": d.promotion_code }]));
        json!({
            "id": self.id,
            "object": "checkout.session",
            "after_expiration": null,
            "allow_promotion_codes": self.allow_promotion_codes,
            "amount_subtotal": quote.subtotal,
            "amount_total": quote.total,
            "automatic_tax": { "enabled": self.automatic_tax, "status": tax_status },
            "billing_address_collection": null,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "collected_information": shipping_details.map(|s| json!({
                "shipping_details": { "address": s.address.to_json(), "name": s.name }
            })),
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": self.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": { "shipping_address": null, "submit": null },
            "customer": self.customer,
            "customer_creation": self.customer_creation,
            "customer_details": customer_details,
            "customer_email": self.customer_email,
            "discounts": discounts,
            "expires_at": self.expires_at,
            "invoice": null,
            "invoice_creation": null,
            "livemode": false,
            "locale": self.locale,
            "metadata": self.metadata,
            "mode": "payment",
            "payment_intent": payment_intent,
            "payment_link": null,
            "payment_method_collection": null,
            "payment_method_options": {},
            "payment_method_types": self.payment_method_types,
            "payment_status": if self.payment == Payment::Paid { "paid" } else { "unpaid" },
            "phone_number_collection": { "enabled": false },
            "recovered_from": null,
            "setup_intent": null,
            "shipping_address_collection": self.shipping_countries.as_ref().map(|countries| {
                json!({ "allowed_countries": countries })
            }),
            "shipping_cost": shipping_cost,
            "shipping_details": shipping_details.map(ShippingDetails::to_json),
            "shipping_options": shipping_options,
            "status": self.status.as_str(),
            "submit_type": self.submit_type,
            "subscription": null,
            "success_url": self.success_url,
            "tax_id_collection": { "enabled": false },
            "total_details": {
                "amount_discount": quote.discount,
                "amount_shipping": quote.shipping_amount,
                "amount_tax": quote.tax,
            },
            "url": if open { Some(&self.url) } else { None },
        })
    }

    /// `total_details.breakdown`: the discount, and the test tax as one
    /// entry per tax rate (inclusive and exclusive rates are separate).
    pub fn breakdown_json(&self, now: i64) -> Value {
        let choices = &self.choices;
        let quote = self.quote(choices);
        let discounts: Vec<Value> = choices
            .discount
            .iter()
            .map(|d| json!({ "amount": quote.discount, "discount": d.to_json(&self.id, now) }))
            .collect();
        let lines: Vec<&LineQuote> = quote.items.iter().chain(&quote.shipping).collect();
        let taxes: Vec<Value> = self
            .tax_rate(choices)
            .map(|rate| {
                [false, true]
                    .into_iter()
                    .filter_map(|inclusive| {
                        let lines = lines.iter().filter(|q| q.inclusive == inclusive);
                        let (amount, taxable) =
                            lines.fold((0, 0), |(a, t), q| (a + q.tax, t + q.taxable));
                        (amount > 0).then(|| {
                            json!({
                                "amount": amount,
                                "rate": tax_rate_json(rate, inclusive, self.created),
                                "taxability_reason": "standard_rated",
                                "taxable_amount": taxable,
                            })
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({ "discounts": discounts, "taxes": taxes })
    }

    /// The line items with their amounts, in order.
    pub fn line_items_json(&self) -> Vec<Value> {
        let quote = self.quote(&self.choices);
        self.line_items
            .iter()
            .zip(&quote.items)
            .map(|(item, q)| item.to_json(q))
            .collect()
    }
}
