//! How the catalog learns of changes: each `catalog_changed` notification
//! is noted for the next request to apply, and while the listener is not
//! connected the catalog reads the database directly.

use std::sync::atomic::Ordering;

use super::Catalog;
use crate::catalog::domain::CatalogChange;
use crate::db::listen::Subscriber;

/// The channel the catalog's triggers notify.
pub const CHANNEL: &str = "catalog_changed";

impl Subscriber for Catalog {
    fn connected(&self) {
        self.note(CatalogChange::Everything);
        self.listening.store(true, Ordering::Release);
    }

    fn disconnected(&self) {
        self.listening.store(false, Ordering::Release);
    }

    fn notified(&self, payload: &str) {
        self.note(CatalogChange::parse(payload));
    }
}
