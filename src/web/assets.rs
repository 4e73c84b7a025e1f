//! Static files, and a versioned URL for the stylesheet: its version comes
//! from its content, so browsers may keep it for a year and still fetch a
//! changed one at once.

use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use sha2::{Digest, Sha256};

const STYLESHEET: &str = "css/app.css";

/// `STATIC_DIR`, set once at start (`use_dir`).
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Serves the static files from `dir` (`STATIC_DIR`); call before the
/// first page is rendered. A second call (another app in one process, as
/// tests start) keeps the first directory.
pub fn use_dir(dir: PathBuf) {
    let _first_wins = DIR.set(dir);
}

/// Where the static files are: `STATIC_DIR`, or the checkout's `static/`.
pub fn dir() -> PathBuf {
    DIR.get()
        .cloned()
        .unwrap_or_else(crate::config::default_static_dir)
}

/// The stylesheet's URL, `/static/css/app.css?v=<version>`.
pub fn stylesheet_url() -> &'static str {
    &STYLESHEET_URL
}

/// Whether this request names the current version of a static file (which
/// may then be cached for good).
fn is_current_version(path: &str, query: &str) -> bool {
    STYLESHEET_URL.split_once('?') == Some((path, query))
}

/// Read once, when the first page is rendered.
static STYLESHEET_URL: LazyLock<String> = LazyLock::new(|| {
    let version = match std::fs::read(dir().join(STYLESHEET)) {
        Ok(content) => hex::encode(&Sha256::digest(&content)[..8]),
        // Served unversioned below (no `v` is ever current): the 1-hour cache.
        Err(_) => "unreadable".to_owned(),
    };
    format!("/static/{STYLESHEET}?v={version}")
});

/// Middleware for `/static`: files may be cached for an hour, then
/// revalidated with the ETag and Last-Modified headers actix-files sends;
/// the current version of a versioned URL (the stylesheet's) for a year.
pub async fn cache_static(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let current = is_current_version(req.path(), req.query_string());
    let mut response = next.call(req).await?;
    if matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(if current {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=3600"
            }),
        );
    }
    Ok(response)
}
