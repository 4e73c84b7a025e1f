//! Staff accounts and sessions: who may sign in, the password rules, the
//! limits on failed sign-ins, and where a sign-in may send the browser.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::staff;

/// Shortest password staff may choose (NIST SP 800-63B asks for 8; the
/// keys to the shop deserve more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest: hashing has to stay cheap whatever is typed.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A staff member's email, trimmed; compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffEmail(String);

impl StaffEmail {
    /// Something shaped like `name@domain`, at most 254 characters.
    pub fn parse(raw: &str) -> Result<StaffEmail, String> {
        let email = raw.trim();
        let well_formed = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if well_formed {
            Ok(StaffEmail(email.to_owned()))
        } else {
            Err(format!("{email:?} is not an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form attempts are counted under.
    pub fn lowercase(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Passwords need at least {MIN_PASSWORD_CHARS} characters.")]
    TooShort,
    #[error("Passwords have at most {MAX_PASSWORD_CHARS} characters.")]
    TooLong,
    /// Among the most common passwords, or built from them or from a pattern.
    #[error("That password is too easy to guess. {0}")]
    Guessable(String),
}

/// Checks a new password: long enough, and not one of (or made from) the
/// passwords people use most, which attackers try first. zxcvbn matches it,
/// case-insensitively, against its list of the 30,000 most common passwords
/// (and common words, names, keyboard rows, repeats, dates); a score below
/// 3 means fewer than 10^10 guesses would find it.
pub fn check_new_password(password: &str, email: &StaffEmail) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    let local_part = email.as_str().split('@').next().unwrap_or_default();
    let entropy = zxcvbn::zxcvbn(password, &[email.as_str(), local_part, "storefront"]);
    if u8::from(entropy.score()) < 3 {
        let why = entropy
            .feedback()
            .and_then(|feedback| feedback.warning())
            .map_or_else(
                || "It follows a pattern that is tried early.".to_owned(),
                |warning| warning.to_string(),
            );
        return Err(PasswordError::Guessable(why));
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff, check_for_backend(diesel::pg::Pg))]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A signed-in staff member, as every back-office request knows them.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub staff_id: i64,
    pub email: String,
    /// Every form POST of the session carries it.
    pub csrf_token: String,
    /// The SHA-256 of the cookie's token (the session's key).
    pub token_hash: Vec<u8>,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// Unused this long, a session is over (ADMIN_IDLE_TIMEOUT_MINUTES).
    pub idle_timeout: Duration,
    /// The cookie goes over https only.
    pub secure_cookie: bool,
}

/// However busy, a session ends this long after sign-in.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// The window failed sign-ins are counted in.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins allowed per email in the window: then the account waits.
pub const ATTEMPTS_PER_ACCOUNT: i64 = 5;
/// Per client address (an office shares one): then that address waits.
pub const ATTEMPTS_PER_CLIENT: i64 = 20;

/// Where the sign-in page sends the browser afterwards: a path of the back
/// office on this site, never another site (`//evil.example`,
/// `https://...`, `/\evil.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPath(String);

impl NextPath {
    pub fn parse(raw: &str) -> Option<NextPath> {
        let safe = (raw == "/admin" || raw.starts_with("/admin/") || raw.starts_with("/admin?"))
            && raw.len() <= 2000
            && !raw.contains("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
        safe.then(|| NextPath(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for NextPath {
    fn default() -> Self {
        NextPath("/admin".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> StaffEmail {
        StaffEmail::parse("alice@example.com").unwrap()
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(
            StaffEmail::parse("  Alice@Example.com ").unwrap().as_str(),
            "Alice@Example.com"
        );
        assert_eq!(
            StaffEmail::parse("Alice@Example.com").unwrap().lowercase(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@.com",
            "a@b@c.com",
        ] {
            assert!(StaffEmail::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn common_or_short_passwords_are_refused() {
        assert_eq!(
            check_new_password("short", &email()),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1), &email()),
            Err(PasswordError::TooLong)
        );
        for common in [
            "password1234",
            "PASSWORD1234",
            "qwertyuiop123",
            "123456789012",
            "iloveyou1234",
            "alice@example.com",
            "aaaaaaaaaaaaaaaa",
        ] {
            assert!(
                matches!(
                    check_new_password(common, &email()),
                    Err(PasswordError::Guessable(_))
                ),
                "{common:?} should be refused"
            );
        }
        for fine in [
            "correct horse battery staple",
            "vX9#qLm2!rTz",
            "Plum-Kettle-Orbit-42",
        ] {
            assert_eq!(check_new_password(fine, &email()), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn next_paths_stay_in_the_back_office() {
        for ok in ["/admin", "/admin/orders?status=paid", "/admin/products/42"] {
            assert_eq!(NextPath::parse(ok).map(|p| p.0), Some(ok.to_owned()));
        }
        for bad in [
            "",
            "/",
            "//evil.example/admin",
            "/admin//evil",
            "https://evil.example/admin",
            "/admin/\\evil",
            "/administrator",
            "/admin/\nx",
            "admin",
        ] {
            assert_eq!(NextPath::parse(bad), None, "{bad:?}");
        }
    }
}
