//! Email addresses as values with rules: one plain address (no display
//! name, no comments, no whitespace, nothing a header could be smuggled
//! in), and the shop's sender with the merchant's display name.

use std::fmt;

/// Longest address SMTP carries (RFC 5321's path limit, less its brackets).
const MAX_LEN: usize = 254;
/// Longest local part (before the `@`).
const MAX_LOCAL_LEN: usize = 64;
/// Longest domain label.
const MAX_LABEL_LEN: usize = 63;
/// Longest display name of the shop's sender.
const MAX_NAME_LEN: usize = 64;

/// One email address, `local@domain.tld`, checked strictly: ASCII letters,
/// digits and `!#$%&'*+/=?^_`{|}~-` in dot-separated atoms before the `@`,
/// and a domain of at least two labels of letters, digits and hyphens.
/// Quoted local parts, comments, IP literals and international addresses
/// are refused: no shopper types them, and a CR, LF, comma, space or angle
/// bracket can never get into a header through one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("an email address is needed")]
    Empty,
    #[error("an email address is at most {MAX_LEN} characters")]
    TooLong,
    #[error("an email address looks like name@example.com")]
    Malformed,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, AddressError> {
        if raw.is_empty() {
            return Err(AddressError::Empty);
        }
        if raw.len() > MAX_LEN {
            return Err(AddressError::TooLong);
        }
        let (local, domain) = raw.rsplit_once('@').ok_or(AddressError::Malformed)?;
        if is_local_part(local) && is_domain(domain) {
            Ok(EmailAddress(raw.to_owned()))
        } else {
            Err(AddressError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as orders are matched and requests counted: domains
    /// are case-insensitive, and in practice so are mailboxes.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_atom_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

fn is_local_part(local: &str) -> bool {
    (1..=MAX_LOCAL_LEN).contains(&local.len())
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atom_char))
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=MAX_LABEL_LEN).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // A top-level domain is never all digits (that is an IP address).
        && labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Who the shop's emails come from (`MAIL_FROM`): an address, with the
/// merchant's display name if given (`Storefront <orders@shop.example>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl MailFrom {
    /// `name@example.com` or `Display Name <name@example.com>`. The name is
    /// printable text without quotes or angle brackets, at most 64
    /// characters; it is encoded when written into a header.
    pub fn parse(raw: &str) -> Result<MailFrom, String> {
        let raw = raw.trim();
        let Some(open) = raw.find('<') else {
            let address = EmailAddress::parse(raw).map_err(|e| e.to_string())?;
            return Ok(MailFrom {
                name: None,
                address,
            });
        };
        let inner = raw[open + 1..]
            .strip_suffix('>')
            .ok_or("expected `Name <address>` or an address")?;
        let address = EmailAddress::parse(inner).map_err(|e| e.to_string())?;
        let name = raw[..open].trim();
        let printable = name
            .chars()
            .all(|c| !c.is_control() && !matches!(c, '<' | '>' | '"' | '\\'));
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN || !printable {
            return Err(format!(
                "the display name must be 1 to {MAX_NAME_LEN} printable characters without quotes or angle brackets"
            ));
        }
        Ok(MailFrom {
            name: Some(name.to_owned()),
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted_as_typed() {
        for ok in [
            "shopper@example.com",
            "Sam.Shopper+orders@mail.example.co.uk",
            "o'neil@example.ie",
            "x@a-b.example",
        ] {
            assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok);
        }
        let address = EmailAddress::parse("Sam@Example.COM").unwrap();
        assert_eq!(address.normalized(), "sam@example.com");
        assert_eq!(address.domain(), "Example.COM");
    }

    #[test]
    fn anything_that_could_carry_a_header_or_a_second_address_is_refused() {
        for bad in [
            "",
            "shopper",
            "@example.com",
            "shopper@",
            "shopper@example",
            "shopper@example.com\r\nBcc: victim@example.com",
            "shopper@example.com\nBcc: victim@example.com",
            "shopper@example.com\r",
            " shopper@example.com",
            "shopper@example.com, victim@example.com",
            "Sam <shopper@example.com>",
            "\"sam shopper\"@example.com",
            "sam..shopper@example.com",
            ".sam@example.com",
            "sam@-example.com",
            "sam@example..com",
            "sam@[127.0.0.1]",
            "sam@127.0.0.1",
            "sam@bücher.de",
            "sam(comment)@example.com",
            "sam@example.com\0",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b.".repeat(130));
        assert_eq!(EmailAddress::parse(&long), Err(AddressError::TooLong));
    }

    #[test]
    fn the_sender_takes_an_optional_display_name() {
        let plain = MailFrom::parse("orders@shop.example").unwrap();
        assert_eq!(plain.name, None);
        let named = MailFrom::parse("  Storefront Shop <orders@shop.example> ").unwrap();
        assert_eq!(named.name.as_deref(), Some("Storefront Shop"));
        assert_eq!(named.address.as_str(), "orders@shop.example");
        for bad in [
            "Storefront <orders@shop.example",
            "<orders@shop.example>",
            "Evil\r\nBcc: x@y.example <orders@shop.example>",
            "\"Quoted\" <orders@shop.example>",
            "Storefront <not an address>",
        ] {
            assert!(MailFrom::parse(bad).is_err(), "{bad:?}");
        }
    }
}
