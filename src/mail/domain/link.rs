//! The signed, expiring link to an email address's orders ("Email me my
//! orders"): whoever holds it may list the orders paid with that address,
//! on any device, until it expires. Nothing is stored: the link carries the
//! address and its expiry, and an HMAC-SHA256 over both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::address::EmailAddress;
use crate::ids::OrdersLinkToken;

/// How long a link works.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// Links one client address may ask for in `LINK_REQUEST_WINDOW`, whatever
/// the addresses: enough for a family's, too few to mail strangers.
pub const LINKS_PER_CLIENT: i64 = 10;
/// Links one email address may be sent in `LINK_REQUEST_WINDOW`, whoever asks.
pub const LINKS_PER_EMAIL: i64 = 3;
pub const LINK_REQUEST_WINDOW: TimeDelta = TimeDelta::hours(1);

/// The link requests of the last `LINK_REQUEST_WINDOW` from one client and
/// for one email address, as counted on every node.
#[derive(Debug, Clone, Copy)]
pub struct RecentRequests {
    pub by_client: i64,
    /// The oldest of them.
    pub client_since: Option<DateTime<Utc>>,
    pub by_email: i64,
    pub email_since: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl RecentRequests {
    /// How long until another request is allowed; `None`: it is now.
    pub fn wait(&self) -> Option<std::time::Duration> {
        let until = |count: i64, limit: i64, since: Option<DateTime<Utc>>| {
            (count >= limit).then(|| since.unwrap_or(self.now) + LINK_REQUEST_WINDOW)
        };
        let free_at = [
            until(self.by_client, LINKS_PER_CLIENT, self.client_since),
            until(self.by_email, LINKS_PER_EMAIL, self.email_since),
        ]
        .into_iter()
        .flatten()
        .max()?;
        // At least a second: a Retry-After of 0 would invite a retry loop.
        Some(
            (free_at - self.now)
                .to_std()
                .unwrap_or_default()
                .max(std::time::Duration::from_secs(1)),
        )
    }
}

/// What the key is derived for: another use of the session key gets
/// another label, and so another key.
const LABEL: &[u8] = b"storefront orders-link v1";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The key links are signed with, derived from the session key (every node
/// shares it; changing it ends every link, as it ends every session).
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl LinkKey {
    pub fn derive(session_key: &[u8]) -> LinkKey {
        let mut mac = HmacSha256::new_from_slice(session_key).expect("HMAC takes keys of any size");
        mac.update(LABEL);
        LinkKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        mac.update(payload.as_bytes());
        mac
    }

    /// A link to `email`'s orders that works until `expires_at`:
    /// `{expiry}.{address}.{signature}`, the address and signature in
    /// base64url.
    pub fn sign(&self, email: &EmailAddress, expires_at: DateTime<Utc>) -> OrdersLinkToken {
        let payload = format!(
            "{}.{}",
            expires_at.timestamp(),
            URL_SAFE_NO_PAD.encode(email.normalized())
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        OrdersLinkToken::parse(&format!("{payload}.{signature}"))
            .expect("a signed link has the shape of one")
    }

    /// The address a link is for, if this key signed it and it has not
    /// expired at `now`.
    pub fn verify(
        &self,
        token: &OrdersLinkToken,
        now: DateTime<Utc>,
    ) -> Result<EmailAddress, LinkError> {
        let (payload, signature) = token.as_str().rsplit_once('.').ok_or(LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        // Constant time: the comparison tells nothing of the right signature.
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        let (expiry, email) = payload.split_once('.').ok_or(LinkError::Invalid)?;
        let expires_at = expiry
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or(LinkError::Invalid)?;
        let email = URL_SAFE_NO_PAD
            .decode(email)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|email| EmailAddress::parse(&email).ok())
            .ok_or(LinkError::Invalid)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not a link this shop signed (changed, cut short, or made up).
    Invalid,
    /// Signed, but past its expiry.
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::derive(&[7; 64])
    }

    #[test]
    fn a_link_names_its_address_until_it_expires() {
        let now = Utc::now();
        let email = EmailAddress::parse("Sam@Example.com").unwrap();
        let token = key().sign(&email, now + LINK_LIFETIME);
        assert_eq!(
            key().verify(&token, now).unwrap().as_str(),
            "sam@example.com"
        );
        assert_eq!(
            key().verify(&token, now + LINK_LIFETIME),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn requests_are_limited_per_client_and_per_address() {
        let now = Utc::now();
        let recent = |by_client, by_email| RecentRequests {
            by_client,
            client_since: Some(now - TimeDelta::minutes(50)),
            by_email,
            email_since: Some(now - TimeDelta::minutes(20)),
            now,
        };
        assert_eq!(
            recent(LINKS_PER_CLIENT - 1, LINKS_PER_EMAIL - 1).wait(),
            None
        );
        let secs = |wait: Option<std::time::Duration>| wait.map(|w| w.as_secs());
        assert_eq!(secs(recent(LINKS_PER_CLIENT, 0).wait()), Some(600));
        assert_eq!(secs(recent(0, LINKS_PER_EMAIL).wait()), Some(2400));
        assert_eq!(
            secs(recent(LINKS_PER_CLIENT, LINKS_PER_EMAIL).wait()),
            Some(2400),
            "the later of the two"
        );
    }

    #[test]
    fn a_changed_link_or_another_key_s_is_refused() {
        let now = Utc::now();
        let email = EmailAddress::parse("sam@example.com").unwrap();
        let token = key().sign(&email, now + LINK_LIFETIME);
        let other = LinkKey::derive(&[8; 64]);
        assert_eq!(other.verify(&token, now), Err(LinkError::Invalid));

        // A later expiry, or another address, under the same signature.
        let (expiry, rest) = token.as_str().split_once('.').unwrap();
        let later = format!("{}.{rest}", expiry.parse::<i64>().unwrap() + 86_400);
        let (_, signature) = token.as_str().rsplit_once('.').unwrap();
        let other_address = format!(
            "{expiry}.{}.{signature}",
            URL_SAFE_NO_PAD.encode("eve@example.com")
        );
        for forged in [later, other_address, format!("{}A", token.as_str())] {
            let forged = OrdersLinkToken::parse(&forged).unwrap();
            assert_eq!(key().verify(&forged, now), Err(LinkError::Invalid));
        }
    }
}
