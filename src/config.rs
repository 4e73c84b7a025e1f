//! Settings from the environment, typed and validated once at start.
//! Every variable is documented in README.md.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::mail::settings::MailSettings;

/// A secret string that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    /// The variable at fault.
    pub(crate) var: &'static str,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(var: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            var,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: start the project's private PostgreSQL cluster under `data_dir`.
    pub database_url: Option<Secret>,
    /// A hot standby for history reads and catalog loads; `None`: the primary.
    pub database_read_url: Option<Secret>,
    pub database_pool_size: usize,
    pub bind: SocketAddr,
    /// Public origin used in absolute links (Stripe redirect URLs), without a
    /// trailing slash; `None`: `http://` plus the address actually bound.
    pub app_base_url: Option<String>,
    /// `None`: generated once and kept in `data_dir`.
    pub session_key: Option<Secret>,
    pub log_format: LogFormat,
    /// Local state for development: the private cluster and the generated session key.
    pub data_dir: PathBuf,
    /// The images and stylesheet served under `/static`.
    pub static_dir: PathBuf,
    /// `None`: the in-process Stripe simulator (test mode).
    pub stripe_secret_key: Option<Secret>,
    pub stripe_api_base: String,
    pub stripe_webhook_secret: Option<Secret>,
    /// Per Stripe request attempt.
    pub stripe_timeout: Duration,
    /// Requests a second the payments API may make to Stripe, shared by
    /// every node; `None`: 80 % of Stripe's limit in the key's mode.
    pub stripe_reads_per_second: Option<u32>,
    pub stripe_writes_per_second: Option<u32>,
    /// How long a debit may wait for its turn at Stripe before a 503.
    pub debit_queue_wait: Duration,
    /// How long a shopper has to pay on Stripe's page (30 min to 24 h).
    pub checkout_session_ttl: Duration,
    /// How often the reconciler looks at pending orders.
    pub reconcile_interval: Duration,
    /// How old a pending order must be before the reconciler asks Stripe about it.
    pub reconcile_after: Duration,
    /// How long a cart nobody touches is kept.
    pub cart_retention: Duration,
    /// Writes (POST, PATCH...) per minute per client; 0 turns limits off.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// Take the client address from X-Forwarded-For (only behind our own proxy).
    pub trust_proxy_headers: bool,
    /// Where uploaded product images are kept (`DATA_DIR/uploads` by default).
    pub upload_dir: PathBuf,
    /// A staff session unused this long is signed out.
    pub admin_idle_timeout: Duration,
    /// Most checkouts waiting for payment one client address may hold (each
    /// holds its stock until paid or expired); 0 for no cap.
    pub pending_checkouts_per_client: u32,
    /// Where `/metrics` is served: a listener of its own, apart from the
    /// shop's (the metrics tell sales volumes).
    pub metrics_bind: SocketAddr,
    /// Where order emails go (SMTP, or files), from whom, and their retries.
    pub mail: MailSettings,
    /// The pause before an event delivery to a merchant's endpoint that
    /// failed is tried again; it doubles with each try.
    pub event_retry: Duration,
}

/// Minimum session key length: actix's cookie key needs 64 bytes (signing + encryption).
pub const SESSION_KEY_MIN_LEN: usize = 64;

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup`, so tests can pass a map instead of the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bind: SocketAddr = parse(&lookup, "BIND", "127.0.0.1:8080", |v| {
            v.parse()
                .map_err(|_| "expected an address like 127.0.0.1:8080".to_owned())
        })?;
        let app_base_url = lookup("APP_BASE_URL")
            .map(|url| parse_base_url(&url).map_err(|m| ConfigError::new("APP_BASE_URL", m)))
            .transpose()?;
        let database_pool_size = parse(&lookup, "DATABASE_POOL_SIZE", "16", |v| match v.parse() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err("expected a whole number from 1 to 1000".to_owned()),
        })?;
        let database_url = postgres_url(&lookup, "DATABASE_URL")?;
        let database_read_url = postgres_url(&lookup, "DATABASE_READ_URL")?;
        let session_key = lookup("SESSION_KEY")
            .map(|key| {
                if key.len() >= SESSION_KEY_MIN_LEN {
                    Ok(Secret::new(key))
                } else {
                    Err(ConfigError {
                        var: "SESSION_KEY",
                        message: format!(
                            "must be at least {SESSION_KEY_MIN_LEN} characters (e.g. `openssl rand -hex 32`)"
                        ),
                    })
                }
            })
            .transpose()?;
        let log_format = parse(&lookup, "LOG_FORMAT", "pretty", |v| match v {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected `pretty` or `json`".to_owned()),
        })?;
        let data_dir = PathBuf::from(lookup("DATA_DIR").unwrap_or_else(|| ".data".to_owned()));
        let static_dir = lookup("STATIC_DIR").map_or_else(default_static_dir, PathBuf::from);
        if !static_dir.join("css/app.css").is_file() {
            return Err(ConfigError {
                var: "STATIC_DIR",
                message: format!(
                    "no css/app.css in {}: point it at a copy of the static/ folder",
                    static_dir.display()
                ),
            });
        }
        let stripe_secret_key = lookup("STRIPE_SECRET_KEY")
            .map(|key| {
                if key.starts_with("sk_test_")
                    || key.starts_with("sk_live_")
                    || key.starts_with("rk_")
                {
                    Ok(Secret::new(key))
                } else {
                    Err(ConfigError {
                        var: "STRIPE_SECRET_KEY",
                        message:
                            "expected a Stripe secret key (sk_test_..., sk_live_... or rk_...)"
                                .to_owned(),
                    })
                }
            })
            .transpose()?;
        let stripe_api_base = match lookup("STRIPE_API_BASE") {
            Some(url) => parse_base_url(&url)
                .map_err(|message| ConfigError::new("STRIPE_API_BASE", message))?,
            None => "https://api.stripe.com".to_owned(),
        };
        let live_key = stripe_secret_key.as_ref().is_some_and(|key| {
            key.expose().starts_with("sk_live_") || key.expose().starts_with("rk_live_")
        });
        if live_key && !stripe_api_base.starts_with("https://") {
            return Err(ConfigError {
                var: "STRIPE_API_BASE",
                message: "a live Stripe key is only sent over https".to_owned(),
            });
        }
        let stripe_webhook_secret = lookup("STRIPE_WEBHOOK_SECRET")
            .map(|secret| {
                if secret.starts_with("whsec_") {
                    Ok(Secret::new(secret))
                } else {
                    Err(ConfigError {
                        var: "STRIPE_WEBHOOK_SECRET",
                        message: "expected a webhook signing secret starting with whsec_"
                            .to_owned(),
                    })
                }
            })
            .transpose()?;
        let stripe_timeout = millis(&lookup, "STRIPE_TIMEOUT_MS", "5000", 100..=60_000)?;
        let per_second = |var: &'static str| match lookup(var) {
            None => Ok(None),
            Some(_) => parse(&lookup, var, "0", |v| match v.parse::<u32>() {
                Ok(n) if n <= 10_000 => Ok(Some(n)),
                _ => Err("expected requests a second from 0 (no budget) to 10000".to_owned()),
            }),
        };
        let stripe_reads_per_second = per_second("STRIPE_READS_PER_SECOND")?;
        let stripe_writes_per_second = per_second("STRIPE_WRITES_PER_SECOND")?;
        let debit_queue_wait = millis(&lookup, "DEBIT_QUEUE_WAIT_MS", "10000", 0..=60_000)?;
        let checkout_session_ttl = Duration::from_secs(
            60 * parse(&lookup, "CHECKOUT_SESSION_MINUTES", "30", |v| {
                match v.parse::<u64>() {
                    Ok(n) if (30..=1440).contains(&n) => Ok(n),
                    _ => Err("expected minutes from 30 to 1440 (Stripe's limits)".to_owned()),
                }
            })?,
        );
        let reconcile_interval =
            millis(&lookup, "RECONCILE_INTERVAL_MS", "60000", 100..=3_600_000)?;
        let reconcile_after = millis(&lookup, "RECONCILE_AFTER_MS", "300000", 0..=86_400_000)?;
        let cart_retention = Duration::from_secs(
            24 * 3600
                * parse(&lookup, "CART_RETENTION_DAYS", "30", |v| {
                    match v.parse::<u64>() {
                        Ok(n) if (1..=3650).contains(&n) => Ok(n),
                        _ => Err("expected days from 1 to 3650".to_owned()),
                    }
                })?,
        );
        let rate_limit_per_minute = parse(&lookup, "RATE_LIMIT_PER_MINUTE", "120", |v| {
            v.parse::<u32>()
                .map_err(|_| "expected a whole number (0 turns limits off)".to_owned())
        })?;
        let rate_limit_burst = parse(&lookup, "RATE_LIMIT_BURST", "30", |v| {
            match v.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err("expected a whole number of at least 1".to_owned()),
            }
        })?;
        let trust_proxy_headers = parse(&lookup, "TRUST_PROXY_HEADERS", "false", |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        })?;
        let upload_dir = lookup("UPLOAD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("uploads"));
        let admin_idle_timeout = Duration::from_secs(
            60 * parse(&lookup, "ADMIN_IDLE_TIMEOUT_MINUTES", "30", |v| {
                match v.parse::<u64>() {
                    Ok(n) if (1..=1440).contains(&n) => Ok(n),
                    _ => Err("expected minutes from 1 to 1440".to_owned()),
                }
            })?,
        );
        let pending_checkouts_per_client = parse(&lookup, "CHECKOUTS_PER_CLIENT", "10", |v| {
            v.parse::<u32>()
                .map_err(|_| "expected a whole number (0 turns the cap off)".to_owned())
        })?;
        let metrics_bind: SocketAddr = parse(&lookup, "METRICS_BIND", "127.0.0.1:9464", |v| {
            v.parse()
                .map_err(|_| "expected an address like 127.0.0.1:9464".to_owned())
        })?;
        let allow_test_mode = parse(&lookup, "ALLOW_TEST_MODE", "false", |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        })?;
        if stripe_secret_key.is_none() {
            test_mode_allowed(app_base_url.as_deref(), bind, allow_test_mode)?;
        }
        let mail = MailSettings::from_lookup(&lookup, live_key)?;
        let event_retry = millis(&lookup, "EVENT_RETRY_MS", "60000", 100..=3_600_000)?;
        Ok(Settings {
            database_url,
            database_read_url,
            database_pool_size,
            bind,
            app_base_url,
            session_key,
            log_format,
            data_dir,
            static_dir,
            stripe_secret_key,
            stripe_api_base,
            stripe_webhook_secret,
            stripe_timeout,
            stripe_reads_per_second,
            stripe_writes_per_second,
            debit_queue_wait,
            checkout_session_ttl,
            reconcile_interval,
            reconcile_after,
            cart_retention,
            rate_limit_per_minute,
            rate_limit_burst,
            trust_proxy_headers,
            upload_dir,
            admin_idle_timeout,
            pending_checkouts_per_client,
            metrics_bind,
            mail,
            event_retry,
        })
    }

    /// Cookies get the `Secure` flag when shoppers reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.app_base_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// Without a Stripe key the store takes payments on the built-in simulator:
/// fine on a developer's loopback address, but a public shop that lost its
/// key must not take fake cards and mark orders paid. Such a shop refuses
/// to start unless test mode is asked for (`ALLOW_TEST_MODE`, a demo), and a
/// build without the simulator always needs a key.
fn test_mode_allowed(
    app_base_url: Option<&str>,
    bind: SocketAddr,
    allow_test_mode: bool,
) -> Result<(), ConfigError> {
    let missing = |message: String| {
        Err(ConfigError {
            var: "STRIPE_SECRET_KEY",
            message,
        })
    };
    if !cfg!(feature = "simulator") {
        return missing(
            "is required: this build has no Stripe simulator (set STRIPE_SECRET_KEY and \
             STRIPE_WEBHOOK_SECRET)"
                .to_owned(),
        );
    }
    let origin = app_base_url.map_or_else(|| format!("http://{bind}"), str::to_owned);
    if allow_test_mode || is_loopback_origin(&origin) {
        return Ok(());
    }
    missing(format!(
        "is not set, and {origin} is not a loopback address: set STRIPE_SECRET_KEY and \
         STRIPE_WEBHOOK_SECRET to take payments, or ALLOW_TEST_MODE=true to run this shop \
         on the built-in Stripe simulator (test mode: no real payments)"
    ))
}

/// Whether an `http(s)://host[:port]` origin names this machine only.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(url) = reqwest::Url::parse(origin).ok() else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

/// The `static/` folder of the source tree the binary was built from.
pub fn default_static_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static")
}

pub(crate) fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    parse(lookup, var, default, |v| match v.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Duration::from_millis(n)),
        _ => Err(format!(
            "expected milliseconds from {} to {}",
            range.start(),
            range.end()
        )),
    })
}

pub(crate) fn parse<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = lookup(var).unwrap_or_else(|| default.to_owned());
    parse(raw.trim()).map_err(|message| ConfigError {
        var,
        message: format!("{message}, got {raw:?}"),
    })
}

fn postgres_url(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    match lookup(var) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Some(Secret::new(url)))
        }
        Some(_) => Err(ConfigError::new(var, "expected a postgres:// URL")),
        None => Ok(None),
    }
}

fn parse_base_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("expected an http:// or https:// origin, got {url:?}"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "expected an origin without a path, like https://shop.example.com, got {url:?}"
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_serve_locally_on_a_private_cluster() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.app_base_url, None);
        assert!(s.stripe_secret_key.is_none(), "the simulator by default");
        assert_eq!(s.checkout_session_ttl.as_secs(), 30 * 60);
        assert!(s.database_url.is_none());
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(!s.secure_cookies());
        assert_eq!(s.upload_dir, PathBuf::from(".data/uploads"));
        assert_eq!(s.admin_idle_timeout.as_secs(), 30 * 60);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("BIND", "localhost"),
            ("METRICS_BIND", "9464"),
            ("APP_BASE_URL", "shop.example.com"),
            ("APP_BASE_URL", "https://shop.example.com/path"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_READ_URL", "standby:5432"),
            ("DATABASE_POOL_SIZE", "0"),
            ("SESSION_KEY", "short"),
            ("LOG_FORMAT", "xml"),
            ("STRIPE_SECRET_KEY", "pk_test_123"),
            ("STRIPE_WEBHOOK_SECRET", "secret"),
            ("STRIPE_TIMEOUT_MS", "fast"),
            ("CHECKOUT_SESSION_MINUTES", "10"),
            ("RECONCILE_INTERVAL_MS", "0"),
            ("CART_RETENTION_DAYS", "0"),
            ("ADMIN_IDLE_TIMEOUT_MINUTES", "0"),
            ("CHECKOUTS_PER_CLIENT", "-1"),
            ("STATIC_DIR", "/nonexistent"),
            ("SMTP_URL", "mail.example.com"),
            ("MAIL_FROM", "Shop <nope>"),
            ("MAIL_MAX_ATTEMPTS", "0"),
            ("MAIL_RETRY_MS", "5"),
            ("EVENT_RETRY_MS", "10"),
            ("ALLOW_MAIL_TO_FILES", "maybe"),
            ("STRIPE_READS_PER_SECOND", "-1"),
            ("STRIPE_WRITES_PER_SECOND", "many"),
            ("DEBIT_QUEUE_WAIT_MS", "600000"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn test_mode_needs_a_loopback_address_or_asking_for_it() {
        assert!(settings(&[]).is_ok(), "the default: 127.0.0.1:8080");
        for (var, value) in [
            ("APP_BASE_URL", "http://localhost:8080"),
            ("APP_BASE_URL", "http://[::1]:8080"),
            ("BIND", "127.0.0.2:8080"),
        ] {
            assert!(settings(&[(var, value)]).is_ok(), "{var}={value}");
        }
        for (var, value) in [
            ("APP_BASE_URL", "https://shop.example.com"),
            ("APP_BASE_URL", "http://localhost.example.com"),
            ("BIND", "0.0.0.0:8080"),
        ] {
            let error = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(error.contains("STRIPE_SECRET_KEY"), "{error}");
            assert!(error.contains("ALLOW_TEST_MODE"), "{error}");
        }
        let demo = [
            ("APP_BASE_URL", "https://demo.example.com"),
            ("ALLOW_TEST_MODE", "true"),
        ];
        assert!(settings(&demo).is_ok());
        let live = [
            ("APP_BASE_URL", "https://shop.example.com"),
            ("STRIPE_SECRET_KEY", "sk_live_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_123"),
            ("SMTP_URL", "smtps://shop:pass@smtp.example.com"),
            ("MAIL_FROM", "orders@shop.example.com"),
        ];
        assert!(settings(&live).is_ok());
    }

    #[test]
    fn a_live_key_goes_only_over_https() {
        let err = settings(&[
            ("STRIPE_SECRET_KEY", "sk_live_123"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "STRIPE_API_BASE");
        assert!(
            settings(&[
                ("STRIPE_SECRET_KEY", "sk_test_123"),
                ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let key = "k".repeat(64);
        let s = settings(&[
            ("SESSION_KEY", &key),
            ("DATABASE_URL", "postgres://u:hunter2@db/x"),
            ("DATABASE_READ_URL", "postgres://u:hunter2@standby/x"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(
            !debug.contains(&key) && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn https_base_url_turns_on_secure_cookies() {
        let s = settings(&[
            ("APP_BASE_URL", "https://shop.example.com/"),
            ("ALLOW_TEST_MODE", "true"),
        ])
        .unwrap();
        assert_eq!(s.app_base_url.as_deref(), Some("https://shop.example.com"));
        assert!(s.secure_cookies());
    }
}
