//! How messages leave: over SMTP (lettre, TLS by rustls with ring), or,
//! without `SMTP_URL`, as `.eml` files under `DATA_DIR/mail` (test mode
//! shows them). Also the envelope: headers, a stable Message-ID, the parts.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use uuid::Uuid;

use super::domain::{EmailAddress, MailFrom};
use super::render::Rendered;
use super::settings::{SmtpSecurity, SmtpUrl};
use crate::ids::SentMailName;

/// Longest wait for any one SMTP reply.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in this folder.
    Files(PathBuf),
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a 4xx answer, no connection, a connection
    /// dropped mid-message, a timeout.
    #[error("{0}")]
    Temporary(String),
    /// The server refused the message for good (a 5xx answer).
    #[error("{0}")]
    Permanent(String),
}

impl Transport {
    /// SMTP when `smtp` is given, else files under `mail_dir` (made, private).
    pub fn new(smtp: Option<&SmtpUrl>, mail_dir: &Path) -> anyhow::Result<Transport> {
        let Some(url) = smtp else {
            create_private_dir(mail_dir)
                .with_context(|| format!("creating {}", mail_dir.display()))?;
            return Ok(Transport::Files(mail_dir.to_owned()));
        };
        let tls = || TlsParameters::new(url.host.clone()).context("setting up TLS for SMTP_URL");
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .timeout(Some(COMMAND_TIMEOUT))
            .tls(match url.security {
                SmtpSecurity::ImplicitTls => Tls::Wrapper(tls()?),
                SmtpSecurity::StartTls => Tls::Required(tls()?),
                SmtpSecurity::Plain => Tls::None,
            });
        if let Some(username) = &url.username {
            let password = url.password.as_ref().map(|p| p.expose().to_owned());
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.unwrap_or_default(),
            ));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    /// Where messages are written, when they are written to files.
    pub fn mail_dir(&self) -> Option<&Path> {
        match self {
            Transport::Files(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(&self, email: &Envelope) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(email.message.clone())
                    .await
                    .map(drop)
                    .map_err(|error| {
                        if error.is_permanent() {
                            SendError::Permanent(error.to_string())
                        } else {
                            SendError::Temporary(error.to_string())
                        }
                    })
            }
            Transport::Files(dir) => {
                let path = dir.join(format!("{}.eml", email.name));
                let bytes = email.message.formatted();
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .map_err(|error| SendError::Temporary(error.to_string()))?
                    .map_err(|error| SendError::Temporary(format!("writing the file: {error}")))
            }
        }
    }
}

/// A message in its envelope, and the name of its file.
pub struct Envelope {
    message: lettre::Message,
    name: SentMailName,
}

/// What identifies a message on every try.
pub struct Identity {
    /// The outbox's id for it: the Message-ID's unique part.
    pub message_id: Uuid,
    /// When it was queued: its `Date`, the same on every try.
    pub queued_at: DateTime<Utc>,
}

/// Puts a rendered message in its envelope: plain text and HTML as
/// alternatives, a Message-ID and Date that stay the same on every try (a
/// copy sent again after a crash can be recognised), and `Auto-Submitted`
/// so that vacation responders do not answer.
pub fn envelope(
    from: &MailFrom,
    to: &EmailAddress,
    rendered: &Rendered,
    identity: &Identity,
) -> anyhow::Result<Envelope> {
    let from = Mailbox::new(from.name.clone(), from.address.as_str().parse()?);
    let to = Mailbox::new(None, to.as_str().parse()?);
    let message_id = format!("<{}@{}>", identity.message_id.simple(), from.email.domain());
    let body = MultiPart::alternative()
        .boundary(format!("=_{}", identity.message_id.simple()))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(rendered.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(rendered.html.clone()),
        );
    let message = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .date(SystemTime::from(identity.queued_at))
        .message_id(Some(message_id))
        .header(AutoSubmitted)
        .multipart(body)?;
    Ok(Envelope {
        message,
        name: SentMailName::new(identity.queued_at, identity.message_id),
    })
}

/// `Auto-Submitted: auto-generated` (RFC 3834): sent by a program.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// Creates `dir` readable by its owner only: the messages hold addresses
/// and links to orders.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `path` whole or not at all: a temporary file in the same folder,
/// renamed over it. A message written again (after a crash) replaces itself.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension(format!("tmp-{}", Uuid::new_v4().simple()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
