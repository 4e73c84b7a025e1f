//! Test mode's page of sent emails (`/test-mode/mail`, linked from the
//! test-mode banner): the `.eml` files the shop wrote, newest first, each
//! shown with its headers, its text part, and its HTML part in a sandboxed
//! frame that runs nothing and reaches nothing.

use std::path::{Path, PathBuf};

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, ContentType, X_FRAME_OPTIONS,
};
use actix_web::{CustomizeResponder, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use mail_parser::MessageParser;

use crate::ids::SentMailName;
use crate::state::AppState;
use crate::web::{AppError, Layout, TypedSession};

/// Sent emails listed at most.
const LISTED: usize = 200;

/// What the page can show, decided when the shop starts.
pub enum SentMailPage {
    /// The emails written to this folder.
    Listed(PathBuf),
    /// Emails go to the SMTP server: nothing is kept here.
    ViaSmtp,
    /// Emails are written to files, but the shop is on a public address,
    /// where the page would show every shopper's mail to anyone.
    NotShownPublicly,
}

/// One sent email, read back from its file.
pub struct SentMail {
    name: SentMailName,
    from: String,
    to: String,
    subject: String,
    date: String,
    message_id: String,
    text: String,
    html: Option<String>,
}

impl SentMail {
    fn read(dir: &Path, name: SentMailName) -> Option<SentMail> {
        let bytes = std::fs::read(dir.join(format!("{name}.eml"))).ok()?;
        let message = MessageParser::default().parse(&bytes[..])?;
        let address = |list: Option<&mail_parser::Address<'_>>| {
            list.and_then(|list| list.first())
                .map(|addr| match (addr.name(), addr.address()) {
                    (Some(name), Some(address)) => format!("{name} <{address}>"),
                    (_, address) => address.unwrap_or_default().to_owned(),
                })
                .unwrap_or_default()
        };
        Some(SentMail {
            from: address(message.from()),
            to: address(message.to()),
            subject: message.subject().unwrap_or_default().to_owned(),
            date: message
                .date()
                .map(|date| date.to_rfc3339())
                .unwrap_or_default(),
            message_id: message.message_id().unwrap_or_default().to_owned(),
            text: message.body_text(0).unwrap_or_default().into_owned(),
            html: message.body_html(0).map(|html| html.into_owned()),
            name,
        })
    }
}

/// The names of the sent emails in `dir`, newest first (names start with
/// the time the message was queued).
fn newest(dir: &Path) -> Vec<SentMailName> {
    let mut names: Vec<SentMailName> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.ok()?.file_name();
            SentMailName::parse(file_name.to_str()?.strip_suffix(".eml")?)
        })
        .collect();
    names.sort_by(|a, b| b.as_str().cmp(a.as_str()));
    names.truncate(LISTED);
    names
}

#[derive(Template, WebTemplate)]
#[template(path = "mail/sent/index.html")]
pub struct SentMailIndex {
    layout: Layout,
    /// Emails go to the SMTP server: say so instead of a list.
    via_smtp: bool,
    /// The emails are written to files but not shown on a public address.
    hidden: bool,
    emails: Vec<SentMail>,
}

#[derive(Template, WebTemplate)]
#[template(path = "mail/sent/show.html")]
pub struct SentMailShow {
    layout: Layout,
    email: SentMail,
}

/// The folder the page lists, in test mode only (a live shop has no such page).
fn listed_dir(state: &AppState) -> Result<Option<&Path>, AppError> {
    if !state.test_mode() {
        return Err(AppError::page_not_found());
    }
    Ok(match &*state.sent_mail {
        SentMailPage::Listed(dir) => Some(dir),
        SentMailPage::ViaSmtp | SentMailPage::NotShownPublicly => None,
    })
}

/// `GET /test-mode/mail`: the sent emails, newest first.
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<CustomizeResponder<SentMailIndex>, AppError> {
    let emails = match listed_dir(&state)?.map(Path::to_owned) {
        Some(dir) => web::block(move || {
            newest(&dir)
                .into_iter()
                .filter_map(|name| SentMail::read(&dir, name))
                .collect()
        })
        .await
        .map_err(anyhow::Error::from)?,
        None => Vec::new(),
    };
    let page = SentMailIndex {
        layout: Layout::new(&session, state.test_mode())?,
        via_smtp: matches!(*state.sent_mail, SentMailPage::ViaSmtp),
        hidden: matches!(*state.sent_mail, SentMailPage::NotShownPublicly),
        emails,
    };
    Ok(personal(page))
}

/// The email `name` in the listed folder, or a 404.
async fn find(state: &AppState, name: &str) -> Result<SentMail, AppError> {
    let not_found = || AppError::NotFound("There is no such email.".into());
    let dir = listed_dir(state)?.ok_or_else(not_found)?.to_owned();
    let name = SentMailName::parse(name).ok_or_else(not_found)?;
    web::block(move || SentMail::read(&dir, name))
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(not_found)
}

/// `GET /test-mode/mail/{name}`: one email, its headers and both parts.
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    name: web::Path<String>,
) -> Result<CustomizeResponder<SentMailShow>, AppError> {
    let email = find(&state, &name).await?;
    let page = SentMailShow {
        layout: Layout::new(&session, state.test_mode())?,
        email,
    };
    Ok(personal(page))
}

/// `GET /test-mode/mail/{name}/html`: the email's HTML part alone, for the
/// frame on its page. Its policy lets it style itself and nothing more: no
/// script, no loads, a sandbox of its own, framed only by our page.
pub async fn html(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let email = find(&state, &name).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox",
        ))
        .insert_header((X_FRAME_OPTIONS, "SAMEORIGIN"))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .body(email.html.unwrap_or_default()))
}

/// Emails are personal: no copy kept anywhere.
fn personal<P: Responder>(page: P) -> CustomizeResponder<P> {
    page.customize()
        .insert_header((CACHE_CONTROL, "private, no-store"))
}
