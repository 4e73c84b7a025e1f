//! What debit and refund requests ask for, as parsed from the API's JSON.

use serde::Serialize;

use crate::ids::{AccountId, PaymentId};
use crate::ledger::domain::RefundReason;
use crate::money::{Currency, Money};

/// When the merchant hears how a debit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirm {
    /// In the answer: the request waits for its turn at Stripe and the charge.
    #[default]
    Sync,
    /// Later: the debit is queued and answered at once (202); a worker
    /// charges it and `GET` shows how it ended.
    Async,
}

impl Confirm {
    pub const ALL: [Confirm; 2] = [Confirm::Sync, Confirm::Async];

    pub fn as_str(self) -> &'static str {
        match self {
            Confirm::Sync => "sync",
            Confirm::Async => "async",
        }
    }

    pub fn parse(confirm: &str) -> Option<Confirm> {
        Confirm::ALL.into_iter().find(|c| c.as_str() == confirm)
    }
}

/// A debit of an account's saved card. Its hash tells a replay (same key,
/// same request) from a key reused for another request.
#[derive(Debug, Clone)]
pub struct DebitRequest {
    pub account_id: AccountId,
    pub amount: Money,
    pub description: Option<String>,
    pub confirm: Confirm,
}

/// The request as hashed: the same fields, in a fixed order. A synchronous
/// debit hashes as it did before `confirm` existed, so that its retry across
/// an upgrade is still a replay.
#[derive(Serialize)]
struct Canonical<'a> {
    account_id: &'a str,
    amount: Money,
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirm: Option<&'static str>,
}

impl DebitRequest {
    pub fn hash(&self) -> Vec<u8> {
        use sha2::Digest;
        let canonical = serde_json::to_vec(&Canonical {
            account_id: self.account_id.as_str(),
            amount: self.amount,
            description: self.description.as_deref(),
            confirm: (self.confirm == Confirm::Async).then_some(Confirm::Async.as_str()),
        })
        .unwrap_or_default();
        sha2::Sha256::digest(&canonical).to_vec()
    }
}

/// A refund of a payment: all of what is left (`amount: None`) or part.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    /// The payment's currency, which its refunds are in.
    pub currency: Currency,
    pub amount: Option<Money>,
    pub reason: Option<RefundReason>,
}

/// The refund request as hashed. `object` keeps it apart from any debit's:
/// a key names one request, whichever endpoint it was sent to.
#[derive(Serialize)]
struct CanonicalRefund<'a> {
    object: &'static str,
    payment_id: &'a str,
    amount: Option<Money>,
    reason: Option<&'static str>,
}

impl RefundRequest {
    pub fn hash(&self) -> Vec<u8> {
        use sha2::Digest;
        let canonical = serde_json::to_vec(&CanonicalRefund {
            object: "refund",
            payment_id: self.payment_id.as_str(),
            amount: self.amount,
            reason: self.reason.map(RefundReason::as_str),
        })
        .unwrap_or_default();
        sha2::Sha256::digest(&canonical).to_vec()
    }
}
