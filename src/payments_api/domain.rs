//! What a debit request asks for, as parsed from the API's JSON.

use serde::Serialize;

use crate::ids::AccountId;
use crate::money::Money;

/// A debit of an account's saved card. Its hash tells a replay (same key,
/// same request) from a key reused for another request.
#[derive(Debug, Clone)]
pub struct DebitRequest {
    pub account_id: AccountId,
    pub amount: Money,
    pub description: Option<String>,
}

/// The request as hashed: the same fields, in a fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    account_id: &'a str,
    amount: Money,
    description: Option<&'a str>,
}

impl DebitRequest {
    pub fn hash(&self) -> Vec<u8> {
        use sha2::Digest;
        let canonical = serde_json::to_vec(&Canonical {
            account_id: self.account_id.as_str(),
            amount: self.amount,
            description: self.description.as_deref(),
        })
        .unwrap_or_default();
        sha2::Sha256::digest(&canonical).to_vec()
    }
}
