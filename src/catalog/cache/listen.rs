//! Each node's listener for `catalog_changed`: it notes every change for
//! the next request to apply, and while it is not connected the catalog
//! reads the database directly.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;

use super::{Catalog, RECONNECT_FIRST, RECONNECT_MAX};
use crate::catalog::domain::CatalogChange;
use crate::config::Secret;

impl Catalog {
    /// Listens for `catalog_changed` on a connection of its own until the
    /// task is aborted, reconnecting with backoff when the connection is lost.
    pub async fn listen(self: Arc<Self>, url: Secret) {
        let mut backoff = RECONNECT_FIRST;
        loop {
            let error = self.listen_once(&url, &mut backoff).await;
            self.listening.store(false, Ordering::Release);
            tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "catalog listener disconnected");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RECONNECT_MAX);
        }
    }

    async fn listen_once(&self, url: &Secret, backoff: &mut Duration) -> anyhow::Error {
        let mut conn = match crate::db::connect(url).await {
            Ok(conn) => conn,
            Err(e) => return e.context("connecting"),
        };
        if let Err(e) = conn.batch_execute("LISTEN catalog_changed").await {
            return anyhow::Error::from(e).context("LISTEN");
        }
        // Changes made while nobody listened came with no notification.
        self.note(CatalogChange::Everything);
        self.listening.store(true, Ordering::Release);
        *backoff = RECONNECT_FIRST;
        let mut notifications = pin!(conn.notifications_stream());
        while let Some(notification) = notifications.next().await {
            match notification {
                Ok(notification) => self.note(CatalogChange::parse(&notification.payload)),
                Err(e) => return anyhow::Error::from(e),
            }
        }
        anyhow::anyhow!("the connection closed")
    }
}
