//! Stripe's errors as we tell them apart: refusals of our request, outages,
//! timeouts and answers we could not read.

use std::time::Duration;

use serde::Deserialize;

use super::types::IdOrObject;

/// Stripe's error envelope: `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorEnvelope {
    pub error: ApiErrorBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
    pub param: Option<String>,
    /// The PaymentIntent a card error happened on (declines embed it).
    #[serde(default)]
    pub payment_intent: Option<IdOrObject>,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error body.
    #[error("Stripe API error {status} ({}): {}", .body.kind, .body.message.as_deref().unwrap_or(""))]
    Api {
        status: u16,
        body: ApiErrorBody,
        request_id: Option<String>,
    },
    /// No answer: connection refused or reset.
    #[error("could not reach Stripe")]
    Network(#[source] reqwest::Error),
    /// No answer in time. The request may or may not have been applied.
    #[error("Stripe did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer we could not understand.
    #[error("unexpected response from Stripe (status {status})")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
}

impl StripeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            StripeError::Api { status, .. } | StripeError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Stripe's error code (`resource_missing`, `card_declined`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { body, .. } => body.code.as_deref(),
            _ => None,
        }
    }

    /// True when Stripe could not be reached or failed on its side, as
    /// opposed to rejecting our request.
    pub fn is_outage(&self) -> bool {
        match self {
            StripeError::Network(_) | StripeError::Timeout(_) | StripeError::Decode { .. } => true,
            StripeError::Api { status, .. } => *status == 429 || *status >= 500,
        }
    }
}
