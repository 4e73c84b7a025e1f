//! Orders: what was bought at which price, where its payment stands, and
//! what moved it there.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{order_checkouts, order_items, order_shipping_options, orders};
use crate::ids::OrderNumber;
use crate::money::{Currency, Money, MoneyError};
use crate::shop_settings::domain::{DeliveryEstimate, TaxBehavior};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Expired,
    Cancelled,
    Failed,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    /// Whether an order with this status, whose Stripe page was completed
    /// or not, waits for a payment that settles later (a bank debit).
    pub fn payment_processing(self, completed: bool) -> bool {
        self == OrderStatus::Pending && completed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Closed without payment: its stock was released and may be sold.
    pub fn is_closed_unpaid(self) -> bool {
        matches!(
            self,
            OrderStatus::Expired | OrderStatus::Cancelled | OrderStatus::Failed
        )
    }
}

impl OrderStatus {
    pub fn parse(value: &str) -> Result<OrderStatus, String> {
        Ok(match value {
            "pending" => OrderStatus::Pending,
            "paid" => OrderStatus::Paid,
            "expired" => OrderStatus::Expired,
            "cancelled" => OrderStatus::Cancelled,
            "failed" => OrderStatus::Failed,
            "refunded" => OrderStatus::Refunded,
            "partially_refunded" => OrderStatus::PartiallyRefunded,
            _ => return Err(format!("unknown order status {value:?}")),
        })
    }
}

/// What moved an order from one status to another: recorded with every
/// transition (`order_events.source`) and counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The shopper's checkout created it.
    Checkout,
    /// Stripe refused or failed to start its payment.
    CheckoutFailed,
    /// Stripe's return page.
    SuccessPage,
    /// The shopper left Stripe's page with its back link.
    CancelPage,
    /// The same browser started a newer checkout.
    Superseded,
    /// The reconciler asked Stripe about it.
    Reconciler,
    /// A Stripe webhook event of this type.
    Webhook(&'static str),
}

impl Source {
    /// The kind of source, for metrics labels: `webhook` for every event type.
    pub fn kind(self) -> &'static str {
        match self {
            Source::Checkout => "checkout",
            Source::CheckoutFailed => "checkout_failed",
            Source::SuccessPage => "success_page",
            Source::CancelPage => "cancel_page",
            Source::Superseded => "superseded",
            Source::Reconciler => "reconciler",
            Source::Webhook(_) => "webhook",
        }
    }
}

impl fmt::Display for Source {
    /// As recorded: `webhook:checkout.session.completed` for events.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Webhook(event) => write!(f, "webhook:{event}"),
            other => f.write_str(other.kind()),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct Order {
    pub id: i64,
    pub token: String,
    pub browser_id: Uuid,
    pub cart_id: Option<Uuid>,
    pub status: OrderStatus,
    pub(super) currency: Currency,
    /// Our items total: the price snapshot Stripe's subtotal must match.
    #[diesel(column_name = amount_total_minor)]
    pub(super) items_total_minor: i64,
    pub(super) amount_refunded_minor: i64,
    pub email: Option<String>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub checkout_url: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The public order number, without its dash (`ids::OrderNumber`).
    pub number: String,
    /// Paid (or to be paid) through Stripe's live mode: real money.
    pub livemode: bool,
    /// The shopper ticked "Save my card for next time".
    pub save_card: bool,
    /// Its prices (and shipping) included tax when it was created.
    pub(super) prices_include_tax: bool,
    /// When Stripe reported its session complete: the payment was
    /// submitted (a bank debit may still be processing).
    pub completed_at: Option<DateTime<Utc>>,
    /// What Stripe charged, shipping and tax included.
    pub(super) amount_charged_minor: Option<i64>,
}

/// What Stripe reported when the shopper completed an order's page: its
/// lines (the total is the order's `amount_charged`), the promotion code,
/// and where the order ships.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_checkouts, check_for_backend(diesel::pg::Pg))]
pub struct OrderCheckout {
    pub(super) amount_subtotal_minor: i64,
    pub(super) amount_discount_minor: i64,
    pub(super) amount_shipping_minor: i64,
    pub(super) amount_tax_minor: i64,
    /// The code the shopper redeemed, as the merchant created it.
    pub promotion_code: Option<String>,
    #[diesel(embed)]
    pub ship_to: ShippingAddress,
}

impl OrderCheckout {
    /// Its lines with the order's charged total.
    pub fn totals(&self, order: &Order) -> Option<StripeTotals> {
        let minor = [
            self.amount_subtotal_minor,
            self.amount_discount_minor,
            self.amount_shipping_minor,
            self.amount_tax_minor,
            order.amount_charged_minor?,
        ];
        StripeTotals::new(order.currency, minor).ok()
    }
}

/// What Stripe reported when the shopper completed an order's page, as the
/// receipt, the emails and the back office show it.
#[derive(Debug, Clone, Default)]
pub struct CheckoutSummary {
    /// Subtotal, discount, shipping, tax and total, as Stripe computed them
    /// (none before the page was completed).
    pub totals: Option<StripeTotals>,
    /// The code the shopper redeemed, as the merchant created it.
    pub promotion_code: Option<String>,
    /// The address as on a parcel, one line each (empty if it does not ship).
    pub ship_to: Vec<String>,
    /// The option the shopper chose: "Standard, 3–5 business days".
    pub shipping_method: Option<String>,
    /// Whether the tax shown is part of the prices rather than added.
    pub tax_included: bool,
}

impl CheckoutSummary {
    pub fn new(
        order: &Order,
        checkout: Option<OrderCheckout>,
        chosen: Option<ShippingOption>,
    ) -> CheckoutSummary {
        CheckoutSummary {
            totals: checkout
                .as_ref()
                .and_then(|checkout| checkout.totals(order)),
            promotion_code: checkout
                .as_ref()
                .and_then(|checkout| checkout.promotion_code.clone()),
            ship_to: checkout
                .map(|checkout| checkout.ship_to.lines())
                .unwrap_or_default(),
            shipping_method: chosen.map(|option| match option.delivery() {
                Some(delivery) => format!("{}, {delivery}", option.display_name),
                None => option.display_name,
            }),
            tax_included: order.tax_behavior().prices_include_tax(),
        }
    }
}

/// Where an order ships, as the shopper entered it on Stripe's page
/// (empty for orders that do not ship).
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = order_checkouts, check_for_backend(diesel::pg::Pg))]
pub struct ShippingAddress {
    #[diesel(column_name = shipping_name)]
    pub name: Option<String>,
    #[diesel(column_name = shipping_line1)]
    pub line1: Option<String>,
    #[diesel(column_name = shipping_line2)]
    pub line2: Option<String>,
    #[diesel(column_name = shipping_city)]
    pub city: Option<String>,
    #[diesel(column_name = shipping_state)]
    pub state: Option<String>,
    #[diesel(column_name = shipping_postal_code)]
    pub postal_code: Option<String>,
    /// A two-letter country code.
    #[diesel(column_name = shipping_country)]
    pub country: Option<String>,
}

impl ShippingAddress {
    /// The address as it is written on a parcel, one line each, without
    /// the empty ones: name; street; city, state and postal code; country.
    pub fn lines(&self) -> Vec<String> {
        let place = [&self.city, &self.state, &self.postal_code]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        [
            self.name.clone(),
            self.line1.clone(),
            self.line2.clone(),
            Some(place),
            self.country.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|line| !line.trim().is_empty())
        .collect()
    }

    pub fn is_known(&self) -> bool {
        self.country.is_some()
    }
}

/// What Stripe computed for an order when its session completed, in the
/// order's currency, exactly as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeTotals {
    /// The items before discount (inclusive taxes included).
    pub subtotal: Money,
    pub discount: Money,
    /// Before tax.
    pub shipping: Money,
    /// Every tax, inclusive ones included.
    pub tax: Money,
    /// What was charged.
    pub total: Money,
}

impl StripeTotals {
    /// From Stripe's minor units: none negative.
    pub fn new(
        currency: Currency,
        [subtotal, discount, shipping, tax, total]: [i64; 5],
    ) -> Result<StripeTotals, MoneyError> {
        let money = |minor| Money::new(minor, currency);
        Ok(StripeTotals {
            subtotal: money(subtotal)?,
            discount: money(discount)?,
            shipping: money(shipping)?,
            tax: money(tax)?,
            total: money(total)?,
        })
    }

    /// Whether the total is what its lines make: subtotal − discount +
    /// shipping, plus the tax when it comes on top of the prices.
    pub fn adds_up(&self, tax_behavior: TaxBehavior) -> bool {
        let exclusive_tax = match tax_behavior {
            TaxBehavior::Inclusive => 0,
            TaxBehavior::Exclusive => self.tax.minor(),
        };
        let lines = i128::from(self.subtotal.minor()) - i128::from(self.discount.minor())
            + i128::from(self.shipping.minor())
            + i128::from(exclusive_tax);
        lines == i128::from(self.total.minor())
    }
}

impl Order {
    /// The public order number as people read it: `K7M2-9QXD`.
    pub fn display_number(&self) -> String {
        OrderNumber::display(&self.number)
    }

    /// Our items total, from our prices when it was created.
    pub fn items_total(&self) -> Money {
        Money::new(self.items_total_minor, self.currency)
            .unwrap_or_else(|_| Money::zero(self.currency))
    }

    /// What the shopper pays: what Stripe charged once known, otherwise
    /// the items (orders before shipping and tax, or not completed yet).
    pub fn total(&self) -> Money {
        self.amount_charged_minor
            .and_then(|minor| Money::new(minor, self.currency).ok())
            .unwrap_or_else(|| self.items_total())
    }

    pub fn tax_behavior(&self) -> TaxBehavior {
        TaxBehavior::from_prices_include_tax(self.prices_include_tax)
    }

    /// Submitted but not settled: a payment that settles later (a bank
    /// debit) is on its way. It holds its stock, and no payment page.
    pub fn payment_processing(&self) -> bool {
        self.status.payment_processing(self.completed_at.is_some())
    }

    pub fn refunded(&self) -> Money {
        Money::new(self.amount_refunded_minor, self.currency)
            .unwrap_or_else(|_| Money::zero(self.currency))
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_paid(&self) -> bool {
        self.paid_at.is_some()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub struct OrderItem {
    pub product_id: i64,
    pub product_name: String,
    pub(super) unit_price_minor: i64,
    pub(super) quantity: i32,
}

impl OrderItem {
    pub fn unit_price(&self, currency: Currency) -> Money {
        Money::new(self.unit_price_minor, currency).unwrap_or_else(|_| Money::zero(currency))
    }

    pub fn quantity(&self) -> u32 {
        u32::try_from(self.quantity).unwrap_or(0)
    }

    pub fn line_total(&self, currency: Currency) -> Money {
        self.unit_price(currency)
            .checked_mul(self.quantity())
            .unwrap_or_else(|_| Money::zero(currency))
    }
}

/// A shipping option an order offered on Stripe's page, as it was then.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_shipping_options, check_for_backend(diesel::pg::Pg))]
pub struct ShippingOption {
    /// Its place among the session's options, from 0.
    pub position: i16,
    pub shipping_rate_id: Option<i64>,
    pub display_name: String,
    pub(super) amount_minor: i64,
    pub(super) min_business_days: Option<i32>,
    pub(super) max_business_days: Option<i32>,
    /// The shopper chose it.
    pub chosen: bool,
}

impl ShippingOption {
    pub fn amount(&self, currency: Currency) -> Money {
        Money::new(self.amount_minor, currency).unwrap_or_else(|_| Money::zero(currency))
    }

    pub fn delivery(&self) -> Option<DeliveryEstimate> {
        DeliveryEstimate::from_days(self.min_business_days, self.max_business_days)
    }
}

/// What to buy: a product and a quantity. Prices always come from the database.
#[derive(Debug, Clone, Copy)]
pub struct OrderLine {
    pub product_id: i64,
    pub quantity: u32,
}

/// Why an order needs a person (`order_issues.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// Stripe says it was paid, but not for our items at our prices (its
    /// subtotal or currency is not the order's).
    AmountMismatch,
    /// Stripe's figures for a paid session do not add up (total ≠
    /// subtotal − discount + shipping + exclusive tax).
    TotalsMismatch,
    /// Paid after it had been closed (its stock released and maybe sold).
    PaidAfterClose,
    /// A refund failed at Stripe after it was asked for.
    RefundFailed,
}

impl IssueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::AmountMismatch => "amount_mismatch",
            IssueKind::TotalsMismatch => "totals_mismatch",
            IssueKind::PaidAfterClose => "paid_after_close",
            IssueKind::RefundFailed => "refund_failed",
        }
    }

    pub fn parse(kind: &str) -> Result<IssueKind, String> {
        Ok(match kind {
            "amount_mismatch" => IssueKind::AmountMismatch,
            "totals_mismatch" => IssueKind::TotalsMismatch,
            "paid_after_close" => IssueKind::PaidAfterClose,
            "refund_failed" => IssueKind::RefundFailed,
            _ => return Err(format!("unknown order issue {kind:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_s_total_adds_up_with_exclusive_tax_on_top_and_inclusive_tax_inside() {
        let totals = |lines| StripeTotals::new(Currency::Usd, lines).unwrap();
        // $30.00 of items, 10% off, $5.00 shipping, $2.03 tax on top.
        let exclusive = totals([3000, 300, 500, 203, 3403]);
        assert!(exclusive.adds_up(TaxBehavior::Exclusive));
        assert!(!exclusive.adds_up(TaxBehavior::Inclusive));
        let inclusive = totals([3000, 300, 500, 533, 3200]);
        assert!(inclusive.adds_up(TaxBehavior::Inclusive));
        assert!(!totals([3000, 0, 500, 0, 3499]).adds_up(TaxBehavior::Inclusive));
        assert!(StripeTotals::new(Currency::Usd, [3000, -1, 0, 0, 3001]).is_err());
    }

    #[test]
    fn an_address_reads_as_on_a_parcel() {
        let address = ShippingAddress {
            name: Some("Sam Shopper".into()),
            line1: Some("1 Market St".into()),
            line2: None,
            city: Some("San Francisco".into()),
            state: Some("CA".into()),
            postal_code: Some("94105".into()),
            country: Some("US".into()),
        };
        assert_eq!(
            address.lines(),
            ["Sam Shopper", "1 Market St", "San Francisco CA 94105", "US"]
        );
        assert!(ShippingAddress::default().lines().is_empty());
    }
}
