//! What we ask Stripe to create, in our terms, and its form encoding: the
//! only place that knows Stripe's parameter names.

use super::Form;
use crate::money::Money;
use crate::shop_settings::domain::{DeliveryEstimate, TaxBehavior};

/// A Checkout Session for one order.
pub struct NewCheckoutSession<'a> {
    pub line_items: Vec<LineItem<'a>>,
    /// Our order id, for Stripe's dashboard and our reconciliation.
    pub order_id: i64,
    /// The order's receipt token: finds the order again should we have lost
    /// the session id.
    pub order_token: &'a str,
    pub success_url: String,
    pub cancel_url: String,
    /// Unix time after which the session cannot be paid.
    pub expires_at: i64,
    /// The Stripe customer to pay as; `None` makes a new one.
    pub customer: Option<&'a str>,
    /// Keep the card on the customer for off-session debits.
    pub save_card: bool,
    /// Where goods may ship and at which rates; `None`: nothing ships, no
    /// address is asked for.
    pub shipping: Option<Shipping<'a>>,
    /// Stripe computes and collects tax from the shopper's address.
    pub automatic_tax: bool,
    /// Whether the prices and shipping amounts include tax.
    pub tax_behavior: TaxBehavior,
    /// The payment page takes promotion codes.
    pub allow_promotion_codes: bool,
}

/// The shipping address Stripe's page collects and the options it offers.
pub struct Shipping<'a> {
    /// Stripe's two-letter country codes.
    pub countries: Vec<&'static str>,
    /// In the order offered; the first is preselected. None: it ships free.
    pub options: Vec<ShippingOption<'a>>,
}

/// A fixed-amount shipping rate, created with the session.
pub struct ShippingOption<'a> {
    pub display_name: &'a str,
    pub amount: Money,
    pub delivery: Option<DeliveryEstimate>,
}

/// One line of the payment page, priced by us.
pub struct LineItem<'a> {
    pub name: &'a str,
    pub unit_price: Money,
    pub quantity: u32,
}

impl NewCheckoutSession<'_> {
    pub fn form(&self) -> Form {
        // No payment_method_types: the methods the Stripe account enables
        // (cards, wallets, Link, bank debits) are offered.
        let mut form = Form::new()
            .field("mode", "payment")
            .field("client_reference_id", self.order_id)
            .field("metadata[order_id]", self.order_id)
            .field("metadata[order_token]", self.order_token)
            .field("payment_intent_data[metadata][order_id]", self.order_id)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("expires_at", self.expires_at);
        // Every payer is a Stripe customer, and so an account: a returning
        // browser pays as the same one, so a newly saved card joins it.
        form = match self.customer {
            Some(customer) => form.field("customer", customer),
            None => form.field("customer_creation", "always"),
        };
        if self.save_card {
            form = form.field("payment_intent_data[setup_future_usage]", "off_session");
        }
        let tax_behavior = tax_behavior(self.tax_behavior);
        for (i, item) in self.line_items.iter().enumerate() {
            let price_data = Form::new()
                .field("currency", currency(item.unit_price))
                .field("unit_amount", item.unit_price.minor())
                .field("tax_behavior", tax_behavior)
                .nest("product_data", Form::new().field("name", item.name));
            form = form.nest(
                &format!("line_items[{i}]"),
                Form::new()
                    .field("quantity", item.quantity)
                    .nest("price_data", price_data),
            );
        }
        if let Some(shipping) = &self.shipping {
            for (i, country) in shipping.countries.iter().enumerate() {
                form = form.field(
                    format!("shipping_address_collection[allowed_countries][{i}]"),
                    country,
                );
            }
            for (i, option) in shipping.options.iter().enumerate() {
                form = form.nest(
                    &format!("shipping_options[{i}]"),
                    Form::new().nest("shipping_rate_data", option.form(tax_behavior)),
                );
            }
        }
        if self.automatic_tax {
            form = form.field("automatic_tax[enabled]", "true");
        }
        if self.allow_promotion_codes {
            form = form.field("allow_promotion_codes", "true");
        }
        form
    }
}

impl ShippingOption<'_> {
    /// `shipping_rate_data`'s fields.
    fn form(&self, tax_behavior: &str) -> Form {
        let mut form = Form::new()
            .field("type", "fixed_amount")
            .field("display_name", self.display_name)
            .field("fixed_amount[amount]", self.amount.minor())
            .field("fixed_amount[currency]", currency(self.amount))
            .field("tax_behavior", tax_behavior);
        if let Some(delivery) = self.delivery {
            let bound = |days: u16| {
                Form::new()
                    .field("unit", "business_day")
                    .field("value", days)
            };
            form = form
                .nest(
                    "delivery_estimate[minimum]",
                    bound(delivery.min_business_days()),
                )
                .nest(
                    "delivery_estimate[maximum]",
                    bound(delivery.max_business_days()),
                );
        }
        form
    }
}

/// A currency as Stripe writes it: `usd`.
fn currency(amount: Money) -> String {
    amount.currency().code().to_ascii_lowercase()
}

fn tax_behavior(behavior: TaxBehavior) -> &'static str {
    match behavior {
        TaxBehavior::Inclusive => "inclusive",
        TaxBehavior::Exclusive => "exclusive",
    }
}

/// A confirmed, off-session charge of a customer's saved card.
pub struct OffSessionCharge<'a> {
    pub amount: Money,
    pub customer: &'a str,
    pub payment_method: &'a str,
    pub description: Option<&'a str>,
    /// Our payment and account ids, to find the payment from its events.
    pub payment_id: &'a str,
    pub account_id: &'a str,
}

impl OffSessionCharge<'_> {
    pub fn form(&self) -> Form {
        Form::new()
            .field("amount", self.amount.minor())
            .field("currency", currency(self.amount))
            .field("customer", self.customer)
            .field("payment_method", self.payment_method)
            .field("confirm", "true")
            .field("off_session", "true")
            .optional("description", self.description)
            .field("metadata[payment_id]", self.payment_id)
            .field("metadata[account_id]", self.account_id)
    }
}

/// What a refund gives money back for, as Stripe's dashboard shows it.
#[derive(Debug, Clone, Copy)]
pub enum RefundOf<'a> {
    /// A shop order (staff refund it), by its public number.
    Order(&'a str),
    /// A payments API payment, by its id (`pay_...`).
    Payment(&'a str),
}

/// A refund of part or all of a payment.
pub struct NewRefund<'a> {
    /// The PaymentIntent whose charge is refunded.
    pub payment_intent: &'a str,
    pub amount: Money,
    /// Stripe's reason: `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<&'a str>,
    /// Our refund's id: finds it again from Stripe's refund events.
    pub refund_id: i64,
    pub of: RefundOf<'a>,
}

impl NewRefund<'_> {
    pub fn form(&self) -> Form {
        let form = Form::new()
            .field("payment_intent", self.payment_intent)
            .field("amount", self.amount.minor())
            .optional("reason", self.reason)
            .field("metadata[storefront_refund_id]", self.refund_id);
        match self.of {
            RefundOf::Order(number) => form.field("metadata[order_number]", number),
            RefundOf::Payment(id) => form.field("metadata[payment_id]", id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }

    fn session(shipping: Option<Shipping<'static>>) -> NewCheckoutSession<'static> {
        NewCheckoutSession {
            line_items: vec![LineItem {
                name: "Mug",
                unit_price: usd(2400),
                quantity: 2,
            }],
            order_id: 7,
            order_token: "token",
            success_url: "https://shop.test/ok".into(),
            cancel_url: "https://shop.test/cancel".into(),
            expires_at: 1_900_000_000,
            customer: None,
            save_card: false,
            shipping,
            automatic_tax: false,
            tax_behavior: TaxBehavior::Inclusive,
            allow_promotion_codes: false,
        }
    }

    fn fields(form: &Form) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&form.encode()).unwrap()
    }

    fn value<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn shipping_tax_and_codes_become_stripe_s_parameters() {
        let shipping = Shipping {
            countries: vec!["US", "GB"],
            options: vec![ShippingOption {
                display_name: "Standard",
                amount: usd(500),
                delivery: DeliveryEstimate::new(3, 5),
            }],
        };
        let form = NewCheckoutSession {
            automatic_tax: true,
            tax_behavior: TaxBehavior::Exclusive,
            allow_promotion_codes: true,
            ..session(Some(shipping))
        }
        .form();
        let fields = fields(&form);
        let rate = "shipping_options[0][shipping_rate_data]";
        for (key, expected) in [
            ("shipping_address_collection[allowed_countries][0]", "US"),
            ("shipping_address_collection[allowed_countries][1]", "GB"),
            (&format!("{rate}[type]"), "fixed_amount"),
            (&format!("{rate}[display_name]"), "Standard"),
            (&format!("{rate}[fixed_amount][amount]"), "500"),
            (&format!("{rate}[fixed_amount][currency]"), "usd"),
            (&format!("{rate}[tax_behavior]"), "exclusive"),
            (
                &format!("{rate}[delivery_estimate][minimum][unit]"),
                "business_day",
            ),
            (&format!("{rate}[delivery_estimate][minimum][value]"), "3"),
            (&format!("{rate}[delivery_estimate][maximum][value]"), "5"),
            ("line_items[0][price_data][tax_behavior]", "exclusive"),
            ("automatic_tax[enabled]", "true"),
            ("allow_promotion_codes", "true"),
        ] {
            assert_eq!(value(&fields, key), Some(expected), "{key}");
        }
        assert!(
            fields
                .iter()
                .all(|(k, _)| !k.starts_with("payment_method_types")),
            "the account's payment methods are not overridden"
        );
    }

    #[test]
    fn a_session_that_ships_nothing_asks_for_no_address_and_leaves_tax_and_codes_off() {
        let fields = fields(&session(None).form());
        assert!(
            fields
                .iter()
                .all(|(k, _)| !k.starts_with("shipping") && !k.starts_with("automatic_tax")),
            "{fields:?}"
        );
        assert_eq!(value(&fields, "allow_promotion_codes"), None);
        assert_eq!(
            value(&fields, "line_items[0][price_data][tax_behavior]"),
            Some("inclusive")
        );
    }
}
