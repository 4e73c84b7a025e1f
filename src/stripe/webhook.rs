//! Webhook signature verification on the raw request bytes.
//!
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`; the signed message is
//! `"{t}.{body}"`, HMAC-SHA256 keyed with the whole `whsec_...` string. Any
//! `v1` may match (several are sent while a secret is being rolled); other
//! schemes are ignored.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// Stripe's libraries' default tolerance for the signature timestamp.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature matches")]
    NoMatch,
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &Secret,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse().ok(),
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignatureError::Malformed)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let expected = mac.finalize().into_bytes();
    // Constant-time comparison against every v1, without stopping early.
    let matched = signatures
        .iter()
        .fold(subtle::Choice::from(0), |acc, candidate| {
            acc | subtle::ConstantTimeEq::ct_eq(expected.as_slice(), candidate.as_slice())
        });
    if !bool::from(matched) {
        return Err(SignatureError::NoMatch);
    }
    if (now_unix - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Builds a header as Stripe would; for our tests and tools.
pub fn sign(payload: &[u8], secret: &Secret, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    fn secret() -> Secret {
        Secret::new("whsec_test_secret")
    }

    #[test]
    fn accepts_a_fresh_valid_signature_among_others() {
        let header = sign(BODY, &secret(), 1_000);
        let with_others = format!("{header},v1={},v0=abc", "00".repeat(32));
        assert_eq!(verify(BODY, &header, &secret(), 1_100, 300), Ok(()));
        assert_eq!(verify(BODY, &with_others, &secret(), 1_100, 300), Ok(()));
        let rolled = format!(
            "t=1000,v1={},{}",
            "11".repeat(32),
            header.split(',').nth(1).unwrap()
        );
        assert_eq!(verify(BODY, &rolled, &secret(), 1_000, 300), Ok(()));
    }

    #[test]
    fn rejects_tampering_wrong_secret_staleness_and_garbage() {
        let header = sign(BODY, &secret(), 1_000);
        let mut tampered = BODY.to_vec();
        tampered[5] = b'X';
        assert_eq!(
            verify(&tampered, &header, &secret(), 1_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(BODY, &header, &Secret::new("whsec_other"), 1_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(BODY, &header, &secret(), 1_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(BODY, &header, &secret(), 699, 300),
            Err(SignatureError::Stale)
        );
        for garbage in ["", "t=1000", "v1=abcd", "t=x,v1=zz", "nonsense"] {
            assert!(
                verify(BODY, garbage, &secret(), 1_000, 300).is_err(),
                "{garbage}"
            );
        }
    }
}
