//! Every connection the app makes to PostgreSQL is opened here: libpq's
//! `sslmode` and `sslrootcert` from the URL, TLS by rustls on ring.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use diesel_async::AsyncPgConnection;
use percent_encoding::percent_decode_str;
use rustls::{CertificateError, RootCertStore};
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, Verify};
use crate::config::Secret;

/// Opens one connection to the database at `url` (a `postgres://` URL with
/// libpq's `sslmode` and `sslrootcert` parameters). Errors name the problem
/// (TLS required, a certificate refused), never the password.
pub async fn connect(url: &Secret) -> anyhow::Result<AsyncPgConnection> {
    Connector::new(url)?.connect().await
}

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    /// Taken as `prefer` (TLS when the server offers it): tokio-postgres
    /// cannot try plain first and TLS second, and TLS first only adds security.
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> anyhow::Result<SslMode> {
        SslMode::ALL
            .into_iter()
            .find(|mode| mode.name() == value)
            .with_context(|| {
                format!(
                    "DATABASE_URL: sslmode={value:?} is not one of disable, allow, prefer, \
                     require, verify-ca, verify-full"
                )
            })
    }
}

/// Where the CA certificates that verify the server come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RootCert {
    File(PathBuf),
    System,
}

impl RootCert {
    fn describe(root_cert: Option<&RootCert>) -> String {
        match root_cert {
            Some(RootCert::File(path)) => format!("sslrootcert={}", path.display()),
            Some(RootCert::System) => "sslrootcert=system: the system's CA certificates".into(),
            None => "the system's CA certificates, as no sslrootcert was given".into(),
        }
    }
}

/// A database URL made ready to connect, as often as needed: the pools
/// keep one, so the CA certificates are read once.
#[derive(Clone)]
pub(super) struct Connector {
    config: tokio_postgres::Config,
    mode: SslMode,
    root_cert: Option<RootCert>,
    tls: MakeRustlsConnect,
}

impl Connector {
    pub(super) fn new(url: &Secret) -> anyhow::Result<Connector> {
        let (rest, mode, root_cert) = take_tls_params(url.expose())?;
        let (mode, root_cert) = resolve(mode.as_deref(), root_cert.as_deref())?;
        // The parser's messages name an option or a character, not a value.
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let roots = || -> anyhow::Result<Arc<RootCertStore>> {
            Ok(Arc::new(match &root_cert {
                Some(RootCert::File(path)) => tls::roots_from_file(path)?,
                Some(RootCert::System) | None => tls::system_roots()?,
            }))
        };
        let verify = match mode {
            SslMode::VerifyCa => Verify::Chain(roots()?),
            SslMode::VerifyFull => Verify::Full(roots()?),
            _ => Verify::Nothing,
        };
        Ok(Connector {
            config,
            mode,
            root_cert,
            tls: MakeRustlsConnect::new(tls::client_config(verify)?),
        })
    }

    pub(super) async fn connect(&self) -> anyhow::Result<AsyncPgConnection> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.explain(e))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection)
            .await
            .context("setting up the PostgreSQL connection")
    }

    /// The error, under a line that says what to change when we can tell.
    fn explain(&self, error: tokio_postgres::Error) -> anyhow::Error {
        match self.hint(&error) {
            Some(hint) => anyhow::Error::new(error).context(hint),
            None => anyhow::Error::new(error),
        }
    }

    fn hint(&self, error: &tokio_postgres::Error) -> Option<String> {
        let host = self.hosts();
        if let Some(db) = error.as_db_error() {
            // pg_hba.conf has only `hostssl` lines for us.
            let refused_plain = db.message().starts_with("no pg_hba.conf entry")
                && db.message().ends_with("no encryption");
            return refused_plain.then(|| match self.mode {
                SslMode::Disable => {
                    "the server requires TLS: set sslmode=require (or verify-full) \
                                     in DATABASE_URL"
                        .to_owned()
                }
                _ => format!(
                    "the server at {host} accepts this user only over TLS but did not offer TLS: \
                     check `ssl` in its postgresql.conf"
                ),
            });
        }
        if let Some(refused) = certificate_error(error) {
            let roots = RootCert::describe(self.root_cert.as_ref());
            return Some(match refused {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's certificate is not valid for host {host}: connect by a name the \
                     certificate lists (sslmode=verify-full checks it), or use sslmode=verify-ca"
                ),
                CertificateError::UnknownIssuer => format!(
                    "the server's certificate is not signed by a trusted CA ({roots}): name the \
                     server's CA with sslrootcert=/path/to/ca.pem in DATABASE_URL"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("the certificate of the server at {host} has expired")
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    format!(
                        "the certificate of the server at {host} is not valid yet: check this machine's clock"
                    )
                }
                _ => format!(
                    "the certificate of the server at {host} was refused (sslmode={}, {roots})",
                    self.mode.name()
                ),
            });
        }
        let no_tls = std::error::Error::source(error)
            .is_some_and(|cause| cause.to_string() == "server does not support TLS");
        no_tls.then(|| {
            format!(
                "the server at {host} does not support TLS, which sslmode={} requires: turn `ssl` \
                 on at the server, or set sslmode=prefer in DATABASE_URL",
                self.mode.name()
            )
        })
    }

    fn hosts(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        hosts.join(",")
    }
}

/// The certificate problem that failed a TLS handshake, if that was it.
/// rustls's error comes wrapped in an I/O error inside tokio-postgres's.
fn certificate_error(error: &tokio_postgres::Error) -> Option<&CertificateError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = next {
        let tls = error.downcast_ref::<rustls::Error>().or_else(|| {
            error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref()?.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(refused)) = tls {
            return Some(refused);
        }
        next = error.source();
    }
    None
}

/// Takes `sslmode` and `sslrootcert` (percent-decoded) out of the URL's
/// query, leaving the other parameters as they were: tokio-postgres knows
/// only three of libpq's sslmodes, and no sslrootcert.
fn take_tls_params(url: &str) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let decode = |text: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .context("DATABASE_URL: a parameter is not UTF-8 once percent-decoded")
    };
    let (mut mode, mut root_cert, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key)?.as_str() {
            "sslmode" => mode = Some(decode(value)?),
            "sslrootcert" => root_cert = Some(decode(value)?).filter(|path| !path.is_empty()),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root_cert))
}

/// The mode in force and the CA source, with libpq's rules: `prefer` by
/// default; `require` with a CA file is `verify-ca`; `sslrootcert=system`
/// means `verify-full` and refuses anything weaker (libpq 16).
fn resolve(
    mode: Option<&str>,
    root_cert: Option<&str>,
) -> anyhow::Result<(SslMode, Option<RootCert>)> {
    let root_cert = root_cert.map(|value| match value {
        "system" => RootCert::System,
        path => RootCert::File(PathBuf::from(path)),
    });
    let mode = mode.map(SslMode::parse).transpose()?;
    let mode = match (&root_cert, mode) {
        (Some(RootCert::System), None | Some(SslMode::VerifyFull)) => SslMode::VerifyFull,
        // Anyone can get a certificate the system trusts for a name they
        // control: only the host name check proves anything.
        (Some(RootCert::System), Some(weaker)) => bail!(
            "DATABASE_URL: sslrootcert=system needs sslmode=verify-full, not sslmode={}",
            weaker.name()
        ),
        (Some(RootCert::File(_)), Some(SslMode::Require)) => SslMode::VerifyCa,
        (_, mode) => mode.unwrap_or(SslMode::Prefer),
    };
    Ok((mode, root_cert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_and_the_others_kept() {
        let (rest, mode, root) = take_tls_params(
            "postgresql://u:p%40ss@db.example.com:6543/shop?application_name=sf&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgresql://u:p%40ss@db.example.com:6543/shop?application_name=sf&connect_timeout=5"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca dir/ca.pem"));

        let (rest, mode, root) = take_tls_params("postgres://u:p@h/db?sslmode=require").unwrap();
        assert_eq!(
            (rest.as_str(), mode.as_deref(), root),
            ("postgres://u:p@h/db", Some("require"), None)
        );
        let (rest, mode, _) = take_tls_params("postgres://u:p@h/db").unwrap();
        assert_eq!((rest.as_str(), mode), ("postgres://u:p@h/db", None));
    }

    #[test]
    fn modes_follow_libpq() {
        let file = Some(RootCert::File("/ca.pem".into()));
        assert_eq!(resolve(None, None).unwrap(), (SslMode::Prefer, None));
        assert_eq!(resolve(Some("disable"), None).unwrap().0, SslMode::Disable);
        assert_eq!(resolve(Some("require"), None).unwrap().0, SslMode::Require);
        // libpq's exception: require with a CA file verifies the chain.
        assert_eq!(
            resolve(Some("require"), Some("/ca.pem")).unwrap(),
            (SslMode::VerifyCa, file.clone())
        );
        assert_eq!(
            resolve(Some("verify-full"), Some("/ca.pem")).unwrap(),
            (SslMode::VerifyFull, file)
        );
        assert_eq!(
            resolve(None, Some("system")).unwrap(),
            (SslMode::VerifyFull, Some(RootCert::System))
        );
        let weak = resolve(Some("verify-ca"), Some("system"))
            .unwrap_err()
            .to_string();
        assert!(
            weak.contains("sslrootcert=system needs sslmode=verify-full"),
            "{weak}"
        );
        let unknown = resolve(Some("on"), None).unwrap_err().to_string();
        assert!(
            unknown.contains(r#"sslmode="on" is not one of"#),
            "{unknown}"
        );
    }

    #[test]
    fn a_bad_url_or_a_missing_ca_file_is_refused_without_the_password() {
        for (url, expected) in [
            (
                "postgres://u:hunter2@h:notaport/db",
                "not a valid PostgreSQL URL",
            ),
            (
                "postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "reading sslrootcert=/nonexistent/ca.pem",
            ),
        ] {
            let error = format!("{:#}", Connector::new(&Secret::new(url)).err().unwrap());
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
