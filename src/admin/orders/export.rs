//! The order list as CSV, streamed: rows come from PostgreSQL as they are
//! read (`load_stream`) and leave in chunks through a small channel, so
//! memory stays the same for a thousand orders or a million. Cells that a
//! spreadsheet would run as a formula are quoted first.

use actix_web::web::Bytes;
use diesel_async::RunQueryDsl;
use futures_util::{Stream, StreamExt};

use super::domain::{OrderFilter, OrderRow};
use super::store;
use crate::db::DbPool;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 32 * 1024;

const HEADER: &str = "order_number,created_at,paid_at,status,email,currency,total,refunded,\
                      livemode,stripe_payment_intent,shipped_at,carrier,tracking_url\r\n";

/// The CSV of every order the filter finds, newest first.
pub fn csv(db: DbPool, filter: OrderFilter) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    // A few chunks in flight at most: a slow client holds the query back.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(error) = produce(&db, &filter, &sender).await {
            tracing::error!(error = ?error, "the order export failed");
            let _ = sender
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

async fn produce(
    db: &DbPool,
    filter: &OrderFilter,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let mut conn = db.get().await?;
    let mut rows = std::pin::pin!(
        store::export(filter)
            .load_stream::<OrderRow>(&mut conn)
            .await?
    );
    let mut buffer = String::with_capacity(CHUNK + 1024);
    buffer.push_str(HEADER);
    while let Some(row) = rows.next().await {
        write_row(&mut buffer, &row?);
        if buffer.len() >= CHUNK {
            let chunk = Bytes::from(std::mem::take(&mut buffer));
            if sender.send(Ok(chunk)).await.is_err() {
                // The client went away: stop reading.
                return Ok(());
            }
            buffer.reserve(CHUNK + 1024);
        }
    }
    if !buffer.is_empty() {
        let _ = sender.send(Ok(Bytes::from(buffer))).await;
    }
    Ok(())
}

fn write_row(out: &mut String, row: &OrderRow) {
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let cells = [
        row.display_number(),
        row.created_at.to_rfc3339(),
        time(row.paid_at),
        row.status.as_str().to_owned(),
        row.email.clone().unwrap_or_default(),
        row.currency.code().to_owned(),
        row.total().decimal(),
        row.refunded().decimal(),
        row.livemode.to_string(),
        row.stripe_payment_intent_id.clone().unwrap_or_default(),
        time(row.shipped_at),
        row.carrier.clone().unwrap_or_default(),
        row.tracking_url.clone().unwrap_or_default(),
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell_text(cell));
    }
    out.push_str("\r\n");
}

/// A CSV cell: quoted when it holds a comma, quote or line break; a cell
/// starting with = + - @ (or a tab or carriage return) gets a leading
/// apostrophe, so that a spreadsheet shows it instead of running it.
pub fn cell_text(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::cell_text;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell_text("plain"), "plain");
        assert_eq!(cell_text("a,b"), "\"a,b\"");
        assert_eq!(cell_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell_text("+1"), "'+1");
        assert_eq!(cell_text("-2"), "'-2");
        assert_eq!(cell_text("@SUM(A1)"), "'@SUM(A1)");
    }
}
