//! "Email me my orders": a shopper on any device asks for a link to the
//! orders paid with their email address. The request does the same work
//! whether or not the address has orders (a message is queued either way;
//! the sender finds out, and sends nothing to an address without orders),
//! so neither the answer nor its timing tells whether it has.

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::domain::{EmailAddress, LINK_LIFETIME, LinkKey, Message};
use super::store::{self, link_requests};

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRequest {
    /// A link is on its way (if the address has orders).
    Queued,
    /// Too many requests from this client or for this address: try again after this long.
    Limited(std::time::Duration),
}

/// Queues a link to `email`'s orders, signed with `key`, unless `client` or
/// `email` asked too often lately (counted on every node).
pub async fn request(
    conn: &mut AsyncPgConnection,
    key: &LinkKey,
    client: &str,
    email: &EmailAddress,
) -> QueryResult<LinkRequest> {
    let normalized = email.normalized();
    conn.transaction(async |conn| {
        link_requests::lock(conn, client, &normalized).await?;
        let recent = link_requests::recent(conn, client, &normalized).await?;
        if let Some(wait) = recent.wait() {
            return Ok(LinkRequest::Limited(wait));
        }
        link_requests::record(conn, client, &normalized).await?;
        let token = key.sign(email, recent.now + LINK_LIFETIME);
        let message = Message::OrdersLink {
            token: token.to_string(),
        };
        store::enqueue(conn, None, Some(email.as_str()), &message).await?;
        Ok(LinkRequest::Queued)
    })
    .await
}
