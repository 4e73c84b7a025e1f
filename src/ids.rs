//! Ids and tokens that arrive from outside (paths, query strings, forms,
//! JSON), each a type with one `parse`: a value that cannot be one of ours is
//! refused there, before any query, so arbitrary input never reaches the
//! database (a NUL byte, which PostgreSQL refuses in text, is simply "not
//! found").

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Writes `$name(value)` types that are a checked `String`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The unguessable key to an order's receipt page: 32 random bytes in
    /// base64url, the only secret in its URL.
    OrderToken
);

impl OrderToken {
    pub fn parse(raw: &str) -> Option<OrderToken> {
        let plausible = (32..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then(|| OrderToken(raw.to_owned()))
    }

    pub fn generate() -> OrderToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        OrderToken(URL_SAFE_NO_PAD.encode(bytes))
    }
}

string_id!(
    /// An order's public number, for receipts, emails and support: eight
    /// random characters of Crockford's base32, stored without the dash it
    /// is shown with (`K7M2-9QXD`). Random, so that it does not count sales.
    OrderNumber
);

/// Crockford's base32: digits and letters without I, L, O and U, which
/// read like other characters.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl OrderNumber {
    /// Accepts what a person may type: any case, with or without the dash
    /// and spaces, and the letters Crockford reads as digits (O as 0, I
    /// and L as 1).
    pub fn parse(raw: &str) -> Option<OrderNumber> {
        let mut number = String::with_capacity(8);
        for c in raw.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) || number.len() == 8 {
                return None;
            }
            number.push(c);
        }
        (number.len() == 8).then_some(OrderNumber(number))
    }

    pub fn generate() -> OrderNumber {
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        OrderNumber(
            bytes
                .iter()
                .map(|b| CROCKFORD[usize::from(b % 32)] as char)
                .collect(),
        )
    }

    /// As people read it: `K7M2-9QXD`.
    pub fn display(number: &str) -> String {
        match number.split_at_checked(4) {
            Some((first, second)) => format!("{first}-{second}"),
            None => number.to_owned(),
        }
    }
}

string_id!(
    /// A product's name in URLs: lowercase letters, digits and hyphens (the
    /// `products.slug` CHECK).
    ProductSlug
);

impl ProductSlug {
    pub fn parse(raw: &str) -> Option<ProductSlug> {
        let plausible = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        plausible.then(|| ProductSlug(raw.to_owned()))
    }
}

string_id!(
    /// A Stripe Checkout Session's id, as Stripe returns it to our success page.
    CheckoutSessionId
);

impl CheckoutSessionId {
    pub fn parse(raw: &str) -> Option<CheckoutSessionId> {
        let plausible = raw.starts_with("cs_")
            && raw.len() <= 255
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        plausible.then(|| CheckoutSessionId(raw.to_owned()))
    }
}

string_id!(
    /// Our payment id, `pay_` and 16 to 64 letters or digits.
    PaymentId
);

string_id!(
    /// Our account id, `acct_` and 16 to 64 letters or digits (an account maps
    /// to a Stripe customer, whose id we never expose).
    AccountId
);

string_id!(
    /// A refund's public id, `rf_` and 16 to 64 letters or digits.
    RefundId
);

string_id!(
    /// An event we sent merchants, `evt_` and 16 to 64 letters or digits.
    EventId
);

string_id!(
    /// A merchant's webhook endpoint, `we_` and 16 to 64 letters or digits.
    WebhookEndpointId
);

impl PaymentId {
    pub fn parse(raw: &str) -> Option<PaymentId> {
        prefixed("pay", raw).then(|| PaymentId(raw.to_owned()))
    }

    pub fn generate() -> PaymentId {
        PaymentId(generate_prefixed("pay"))
    }
}

impl AccountId {
    pub fn parse(raw: &str) -> Option<AccountId> {
        prefixed("acct", raw).then(|| AccountId(raw.to_owned()))
    }

    pub fn generate() -> AccountId {
        AccountId(generate_prefixed("acct"))
    }
}

impl RefundId {
    pub fn parse(raw: &str) -> Option<RefundId> {
        prefixed("rf", raw).then(|| RefundId(raw.to_owned()))
    }

    pub fn generate() -> RefundId {
        RefundId(generate_prefixed("rf"))
    }
}

impl EventId {
    pub fn parse(raw: &str) -> Option<EventId> {
        prefixed("evt", raw).then(|| EventId(raw.to_owned()))
    }

    pub fn generate() -> EventId {
        EventId(generate_prefixed("evt"))
    }
}

impl WebhookEndpointId {
    pub fn parse(raw: &str) -> Option<WebhookEndpointId> {
        prefixed("we", raw).then(|| WebhookEndpointId(raw.to_owned()))
    }

    pub fn generate() -> WebhookEndpointId {
        WebhookEndpointId(generate_prefixed("we"))
    }
}

/// Whether `raw` is `prefix_` and 16 to 64 ASCII letters or digits.
fn prefixed(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            (16..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// `prefix_` and 22 random alphanumeric characters (about 131 bits).
fn generate_prefixed(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 22];
    rand::rng().fill_bytes(&mut bytes);
    let random: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}_{random}")
}

string_id!(
    /// An uploaded image's file name in `/uploads/{name}`: 32 hex digits of
    /// its content's hash and its format's extension.
    UploadName
);

impl UploadName {
    pub fn parse(raw: &str) -> Option<UploadName> {
        let (hash, extension) = raw.split_once('.')?;
        let plausible = hash.len() == 32
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && ["png", "jpg", "webp"].contains(&extension);
        plausible.then(|| UploadName(raw.to_owned()))
    }
}

string_id!(
    /// A signed link to an email address's orders (`mail::domain::link`):
    /// an expiry, the address and a signature, dot-separated in base64url.
    /// Only its shape is checked here; the signature, where it is verified.
    OrdersLinkToken
);

impl OrdersLinkToken {
    pub fn parse(raw: &str) -> Option<OrdersLinkToken> {
        let plausible = (16..=512).contains(&raw.len())
            && raw.matches('.').count() == 2
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        plausible.then(|| OrdersLinkToken(raw.to_owned()))
    }
}

string_id!(
    /// An email written to `DATA_DIR/mail` (test mode), by its file name
    /// without `.eml`: the time it was queued and its message id,
    /// `20261204T180526Z-` and 32 hex digits.
    SentMailName
);

impl SentMailName {
    pub fn parse(raw: &str) -> Option<SentMailName> {
        let (time, id) = raw.split_once('-')?;
        let plausible = time.len() == 16
            && time
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'T' || b == b'Z')
            && id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        plausible.then(|| SentMailName(raw.to_owned()))
    }

    /// The name of the message with `message_id`, queued at `queued_at`.
    pub fn new(queued_at: chrono::DateTime<chrono::Utc>, message_id: uuid::Uuid) -> SentMailName {
        SentMailName(format!(
            "{}-{}",
            queued_at.format("%Y%m%dT%H%M%SZ"),
            message_id.simple()
        ))
    }
}

/// A cart line's id in `/cart/items/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CartItemId(i64);

impl CartItemId {
    pub fn parse(raw: &str) -> Option<CartItemId> {
        raw.parse().ok().filter(|id| *id > 0).map(CartItemId)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for CartItemId {
    fn from(id: i64) -> Self {
        CartItemId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_accepts_its_shape_only() {
        let token = OrderToken::generate();
        assert_eq!(OrderToken::parse(token.as_str()), Some(token));
        for bad in [
            "",
            "short",
            &"a".repeat(65),
            &format!("{}\0", "a".repeat(40)),
        ] {
            assert_eq!(OrderToken::parse(bad), None, "{bad:?}");
        }
        let number = OrderNumber::generate();
        assert_eq!(OrderNumber::parse(number.as_str()), Some(number.clone()));
        let shown = OrderNumber::display(number.as_str());
        assert_eq!(OrderNumber::parse(&shown.to_lowercase()), Some(number));
        assert_eq!(
            OrderNumber::parse("k7m2-9qxo").map(|n| n.to_string()),
            Some("K7M29QX0".to_owned())
        );
        for bad in ["", "K7M2-9QX", "K7M2-9QXDD", "K7M2-9QXU", "K7M2-9QX\0"] {
            assert_eq!(OrderNumber::parse(bad), None, "{bad:?}");
        }
        assert!(ProductSlug::parse("aurora-ceramic-mug").is_some());
        for bad in ["", "Mug", "mug\0", "mug mug", &"a".repeat(101)] {
            assert_eq!(ProductSlug::parse(bad), None, "{bad:?}");
        }
        let payment = PaymentId::generate();
        assert_eq!(PaymentId::parse(payment.as_str()), Some(payment));
        assert_eq!(PaymentId::parse("acct_0000000000000000000000"), None);
        assert!(AccountId::parse("acct_0000000000000000000000").is_some());
        assert_eq!(AccountId::parse("acct_000"), None);
        assert_eq!(AccountId::parse("acct_✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓"), None);
        assert!(UploadName::parse("0123456789abcdef0123456789abcdef.png").is_some());
        for bad in [
            "../etc/passwd",
            "0123456789abcdef0123456789abcdef.svg",
            "0123456789ABCDEF0123456789ABCDEF.png",
            "x.png",
            "0123456789abcdef0123456789abcdef.png.png",
        ] {
            assert_eq!(UploadName::parse(bad), None, "{bad:?}");
        }
        assert!(CheckoutSessionId::parse("cs_test_a1B2").is_some());
        assert_eq!(CheckoutSessionId::parse("pi_123"), None);
        let link = "1796400000.c2FtQGV4YW1wbGUuY29t.AbC-_d";
        assert!(OrdersLinkToken::parse(link).is_some());
        for bad in [
            "",
            "1.2",
            "a.b.c.d",
            &format!("{link}\n"),
            &format!("{link}/x"),
        ] {
            assert_eq!(OrdersLinkToken::parse(bad), None, "{bad:?}");
        }
        let name = SentMailName::new(chrono::Utc::now(), uuid::Uuid::new_v4());
        assert_eq!(SentMailName::parse(name.as_str()), Some(name));
        for bad in [
            "",
            "../etc/passwd",
            "20261204T180526Z-abc",
            "20261204T180526Z-../../0123456789abcdef0123456789",
        ] {
            assert_eq!(SentMailName::parse(bad), None, "{bad:?}");
        }
        assert_eq!(CartItemId::parse("42").map(CartItemId::get), Some(42));
        for bad in ["", "-1", "0", "1.5", "99999999999999999999"] {
            assert_eq!(CartItemId::parse(bad), None, "{bad:?}");
        }
    }
}
