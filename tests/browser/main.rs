//! End-to-end tests in a real browser: headless Chromium driven through
//! Debian's chromedriver (packages `chromium` and `chromium-driver`; a
//! missing browser fails the tests, it never skips them).
//!
//! Each test starts the app exactly as the API tests do (its own database
//! cloned from the seeded template, its own Stripe simulator, a real port) and
//! a fresh browser profile, then shops like a person: it clicks links and
//! buttons, types into fields, and asserts on what the page shows, cross-
//! checking the database where that proves more.
//!
//! The page tour also writes full-page screenshots at 1280 px and 390 px to
//! `target/screenshots/` (or `$CARGO_TARGET_DIR/screenshots/`) and runs
//! axe-core on every page: serious or critical violations fail the test.
//! A failing journey leaves its last page in `target/screenshots/failures/`.

// The API tests' helpers start the app, the database and the simulator; the
// browser tests use only part of them.
#[allow(dead_code, reason = "shared with tests/api, which uses the rest")]
#[path = "../api/helpers.rs"]
mod helpers;

mod a11y;
mod admin;
mod assets;
mod catalog;
mod checkout_ships;
mod driver;
mod journeys;
mod mail;
mod pages;
mod shop;
