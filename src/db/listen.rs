//! Listening on a PostgreSQL notification channel from a connection of its
//! own, reconnecting with backoff when it is lost. What a node keeps in
//! memory (the catalog, the API keys) learns of changes this way; while the
//! connection is down it must not trust what it kept.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;

use crate::config::Secret;

const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// What learns of a channel's notifications.
pub trait Subscriber: Send + Sync + 'static {
    /// Listening (again): changes made meanwhile came with no notification.
    fn connected(&self);
    /// The connection is lost: until `connected`, nothing is told.
    fn disconnected(&self);
    fn notified(&self, payload: &str);
}

/// Listens on `channel` until the task is aborted.
pub async fn listen(url: Secret, channel: &'static str, subscriber: Arc<impl Subscriber>) {
    let mut backoff = RECONNECT_FIRST;
    loop {
        let error = listen_once(&url, channel, &*subscriber, &mut backoff).await;
        subscriber.disconnected();
        tracing::warn!(channel, error = format!("{error:#}"), retry_in = ?backoff, "listener disconnected");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

async fn listen_once(
    url: &Secret,
    channel: &'static str,
    subscriber: &impl Subscriber,
    backoff: &mut Duration,
) -> anyhow::Error {
    let mut conn = match super::connect(url).await {
        Ok(conn) => conn,
        Err(e) => return e.context("connecting"),
    };
    if let Err(e) = conn.batch_execute(&format!("LISTEN {channel}")).await {
        return anyhow::Error::from(e).context("LISTEN");
    }
    subscriber.connected();
    *backoff = RECONNECT_FIRST;
    let mut notifications = pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        match notification {
            Ok(notification) => subscriber.notified(&notification.payload),
            Err(e) => return anyhow::Error::from(e),
        }
    }
    anyhow::anyhow!("the connection closed")
}
