//! The memory bound (see [`crate::Config::max_objects`]): the sweep that
//! drops what is old and final, and the counts `GET /_sim/stats` shows.

use serde_json::Value;

use crate::model::{PaymentIntent, Refund, Session};
use crate::state::{IDEMPOTENCY_TTL_SECS, Idempotent, State};
use crate::store::{Record, Table};

impl State {
    /// Applies the bound of [`crate::Config::max_objects`]: in each table the
    /// oldest final objects beyond `max_objects`, and final objects older than
    /// `retention`, are dropped. What an open session or an unsettled payment
    /// still needs is never final.
    pub(crate) fn sweep(&mut self) {
        let now = self.now();
        let cap = self.limits.max_objects;
        let cutoff = now.saturating_sub(self.limits.retention_secs);
        self.sessions.evict(cap, cutoff, Session::is_final);

        let (sessions, refunds) = (&self.sessions, &self.refunds);
        let gone = self
            .payment_intents
            .evict(cap, cutoff, |pi| !intent_is_live(pi, sessions, refunds));
        // An intent's charges and refunds go with it: nothing else reaches them.
        for intent in gone {
            for charge in ids(self.charges.lookup("payment_intent", &intent.id)) {
                self.charges.remove(&charge);
            }
            for refund in ids(self.refunds.lookup("payment_intent", &intent.id)) {
                self.refunds.remove(&refund);
            }
        }

        let (intents, sessions, refunds) = (&self.payment_intents, &self.sessions, &self.refunds);
        self.payment_methods.evict(cap, cutoff, |pm| {
            pm.customer.is_none()
                && pm
                    .payment_intent
                    .as_deref()
                    .and_then(|id| intents.get(id))
                    .is_none_or(|pi| !intent_is_live(pi, sessions, refunds))
        });
        // Sessions keep a copy of the rates they offer: inline rates, made
        // for each session, go under the cap only.
        self.shipping_rates.evict(cap, i64::MIN, |_| true);

        // Customers are never final: only the cap removes them, with their saved cards.
        for customer in self.customers.evict(cap, i64::MIN, |_| true) {
            for pm in ids(self.payment_methods.lookup("customer", &customer.id)) {
                self.payment_methods.remove(&pm);
            }
        }

        self.events.evict(cap, cutoff, |_| true);
        self.idempotency
            .evict(cap, now - IDEMPOTENCY_TTL_SECS, |record| {
                matches!(record.entry, Idempotent::Done { .. })
            });
    }

    /// How many objects of each kind are kept, for `GET /_sim/stats`.
    pub fn counts(&self) -> Value {
        serde_json::json!({
            "checkout_sessions": self.sessions.len(),
            "payment_intents": self.payment_intents.len(),
            "charges": self.charges.len(),
            "refunds": self.refunds.len(),
            "payment_methods": self.payment_methods.len(),
            "customers": self.customers.len(),
            "events": self.events.len(),
            "webhook_endpoints": self.endpoints.len(),
            "coupons": self.coupons.len(),
            "promotion_codes": self.promotion_codes.len(),
            "shipping_rates": self.shipping_rates.len(),
            "idempotency_keys": self.idempotency.len(),
            "deliveries": self.deliveries.len(),
        })
    }
}

/// Whether a PaymentIntent may still change: its bank debit is processing,
/// its Checkout Session is not final (a 3D Secure step waits there), or one of
/// its refunds will change. (An API-created intent left in `requires_action`
/// cannot change: the simulator has no confirm endpoint.)
fn intent_is_live(
    intent: &PaymentIntent,
    sessions: &Table<Session>,
    refunds: &Table<Refund>,
) -> bool {
    intent.status == "processing"
        || refunds
            .lookup("payment_intent", &intent.id)
            .any(|r| r.changing)
        || intent
            .checkout_session
            .as_deref()
            .and_then(|id| sessions.get(id))
            .is_some_and(|session| !session.is_final())
}

fn ids<'t, T: Record + 't>(rows: impl Iterator<Item = &'t T>) -> Vec<String> {
    rows.map(|row| row.id().to_owned()).collect()
}
