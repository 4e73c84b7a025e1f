//! Static files, and a versioned URL for the stylesheet: its version comes
//! from its content, so browsers may keep it for a year and still fetch a
//! changed one at once.

use std::path::PathBuf;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

const STYLESHEET: &str = "css/app.css";

/// Where the static files are.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// The stylesheet's URL, `/static/css/app.css?v=<version>`.
pub fn stylesheet_url() -> &'static str {
    &STYLESHEET_URL
}

/// Whether this request names the current version of a static file (which
/// may then be cached for good).
pub fn is_current_version(path: &str, query: &str) -> bool {
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
