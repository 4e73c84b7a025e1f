//! The mail settings (`SMTP_URL`, `MAIL_FROM`, retries), as `config` reads
//! them: the SMTP server's URL taken apart, with the TLS it requires.

use std::fmt;

use super::domain::{MailFrom, RetryPolicy};
use crate::config::{ConfigError, Secret, millis, parse};

/// The sender without `MAIL_FROM`, when messages only go to files: a name
/// under `.localhost`, which no real mail system accepts.
pub const DEFAULT_MAIL_FROM: &str = "Storefront <orders@storefront.localhost>";

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `None`: messages are written as `.eml` files under `DATA_DIR/mail`.
    pub smtp: Option<SmtpUrl>,
    pub from: MailFrom,
    pub retry: RetryPolicy,
}

impl MailSettings {
    /// Reads SMTP_URL, MAIL_FROM, MAIL_MAX_ATTEMPTS, MAIL_RETRY_MS and
    /// ALLOW_MAIL_TO_FILES. A live shop (a live Stripe key) must send its
    /// emails: without SMTP_URL its shoppers would pay real money and never
    /// get a confirmation, so it refuses to start, unless told that files
    /// are wanted (`ALLOW_MAIL_TO_FILES`: another program delivers them).
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        live_key: bool,
    ) -> Result<MailSettings, ConfigError> {
        let smtp = lookup("SMTP_URL")
            .map(|url| SmtpUrl::parse(url.trim()).map_err(|e| ConfigError::new("SMTP_URL", e)))
            .transpose()?;
        let allow_files = parse(lookup, "ALLOW_MAIL_TO_FILES", "false", |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        })?;
        if live_key && smtp.is_none() && !allow_files {
            return Err(ConfigError::new(
                "SMTP_URL",
                "is required with a live Stripe key, so that shoppers get their order emails \
                 (smtps://user:password@host:465); ALLOW_MAIL_TO_FILES=true writes them to \
                 DATA_DIR/mail instead",
            ));
        }
        let from = match (lookup("MAIL_FROM"), &smtp) {
            (Some(from), _) => {
                MailFrom::parse(&from).map_err(|e| ConfigError::new("MAIL_FROM", e))?
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "MAIL_FROM",
                    "is required with SMTP_URL: the address your mail server sends as, \
                     e.g. `Your Shop <orders@shop.example.com>`",
                ));
            }
            (None, None) => {
                MailFrom::parse(DEFAULT_MAIL_FROM).expect("the default sender is valid")
            }
        };
        let max_attempts = parse(lookup, "MAIL_MAX_ATTEMPTS", "10", |v| match v.parse() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err("expected a whole number from 1 to 100".to_owned()),
        })?;
        let first_retry = millis(lookup, "MAIL_RETRY_MS", "60000", 100..=3_600_000)?;
        Ok(MailSettings {
            smtp,
            from,
            retry: RetryPolicy {
                max_attempts,
                first_retry,
            },
        })
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465).
    ImplicitTls,
    /// `smtp://` to another machine: STARTTLS, required (port 587).
    StartTls,
    /// `smtp://` to this machine (a local relay): no TLS; nothing crosses a network.
    Plain,
}

/// `SMTP_URL`: `smtps://user:pass@host:465`, `smtp://user:pass@host:587`
/// (STARTTLS required, the certificate checked against the system's CAs),
/// or `smtp://localhost:25` (a relay on this machine, spoken to in plain).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

impl fmt::Debug for SmtpUrl {
    /// Without the password (`Secret` hides itself too).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        // Messages name the URL's shape, never the URL: it holds a password.
        let shape = "expected smtps://user:password@host:465 or smtp://user:password@host:587";
        let url = reqwest::Url::parse(raw).map_err(|_| shape.to_owned())?;
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| shape.to_owned())?
            .trim_matches(['[', ']'])
            .to_owned();
        if !url.path().trim_matches('/').is_empty()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!("{shape}, without a path or parameters"));
        }
        let (security, default_port) = match url.scheme() {
            "smtps" => (SmtpSecurity::ImplicitTls, 465),
            "smtp" if is_loopback(&host) => (SmtpSecurity::Plain, 25),
            "smtp" => (SmtpSecurity::StartTls, 587),
            _ => return Err(shape.to_owned()),
        };
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| "the user name and password must be UTF-8".to_owned())
        };
        let username = Some(url.username())
            .filter(|name| !name.is_empty())
            .map(decode)
            .transpose()?;
        let password = url.password().map(decode).transpose()?.map(Secret::new);
        if password.is_some() && username.is_none() {
            return Err(format!("{shape}: a password needs a user name"));
        }
        Ok(SmtpUrl {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Settings};

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
        Settings::from_lookup(|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn a_live_shop_sends_its_mail_through_smtp_unless_told_otherwise() {
        let live = [
            ("APP_BASE_URL", "https://shop.example.com"),
            ("STRIPE_SECRET_KEY", "sk_live_123"),
        ];
        let error = settings(&live).unwrap_err();
        assert_eq!(error.var, "SMTP_URL");
        assert!(settings(&[live[0], live[1], ("ALLOW_MAIL_TO_FILES", "true")]).is_ok());
        let smtp = ("SMTP_URL", "smtps://u:hunter2@smtp.example.com");
        assert_eq!(
            settings(&[live[0], live[1], smtp]).unwrap_err().var,
            "MAIL_FROM"
        );
        let s = settings(&[
            live[0],
            live[1],
            smtp,
            ("MAIL_FROM", "Shop <orders@shop.example.com>"),
        ])
        .unwrap();
        assert!(s.mail.smtp.is_some());
        assert!(!format!("{s:?}").contains("hunter2"));
        // A test key, or the simulator: files are fine.
        let s = settings(&[]).unwrap();
        assert!(s.mail.smtp.is_none());
        assert_eq!(s.mail.from.address.as_str(), "orders@storefront.localhost");
    }

    #[test]
    fn the_scheme_and_host_decide_the_tls() {
        let url = SmtpUrl::parse("smtps://apikey:s3cr%2Ft@smtp.example.com").unwrap();
        assert_eq!(
            (url.security, url.port, url.host.as_str()),
            (SmtpSecurity::ImplicitTls, 465, "smtp.example.com")
        );
        assert_eq!(url.username.as_deref(), Some("apikey"));
        assert_eq!(url.password.as_ref().map(Secret::expose), Some("s3cr/t"));
        let submission = SmtpUrl::parse("smtp://u:p@smtp.example.com:2525").unwrap();
        assert_eq!(
            (submission.security, submission.port),
            (SmtpSecurity::StartTls, 2525)
        );
        for local in ["smtp://localhost", "smtp://127.0.0.1:1025", "smtp://[::1]"] {
            let url = SmtpUrl::parse(local).unwrap();
            assert_eq!(url.security, SmtpSecurity::Plain, "{local}");
        }
        assert_eq!(SmtpUrl::parse("smtp://localhost").unwrap().port, 25);
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for bad in [
            "smtp.example.com:587",
            "http://smtp.example.com",
            "smtp://",
            "smtp://:hunter2@smtp.example.com",
            "smtp://u:hunter2@smtp.example.com/path",
            "smtp://u:hunter2@smtp.example.com?tls=none",
        ] {
            let error = SmtpUrl::parse(bad).unwrap_err();
            assert!(!error.contains("hunter2"), "{error}");
        }
        let url = SmtpUrl::parse("smtps://u:hunter2@smtp.example.com").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
