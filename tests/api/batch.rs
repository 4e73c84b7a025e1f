//! `db::batch` on a real database: which writes share a statement, and what
//! a failed one does to the others.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::result::QueryResult;
use diesel::sql_types::{Array, BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use storefront::db::Statement;
use storefront::db::batch::{BatchError, BatchWrite, Batcher};

use crate::helpers::test_database;

/// A write that answers the id of the transaction it ran in. `value` 0 fails
/// its statement (division by zero); above 1, the statement first sleeps
/// that many milliseconds.
struct Probe {
    key: u32,
    value: i32,
}

#[derive(QueryableByName)]
struct Txid {
    #[diesel(sql_type = BigInt)]
    txid: i64,
}

impl BatchWrite for Probe {
    type Key = u32;
    type Answer = i64;
    const KIND: &'static str = "test_probe";

    fn key(&self) -> u32 {
        self.key
    }

    async fn run(conn: &mut AsyncPgConnection, batch: &[Probe]) -> QueryResult<Vec<i64>> {
        let rows: Vec<Txid> = Statement::new(
            "SELECT txid_current() + 0 * (1 / v) AS txid \
             FROM unnest($1::int[]) WITH ORDINALITY AS probe (v, n), \
                  LATERAL (SELECT pg_sleep(CASE WHEN v > 1 THEN v / 1000.0 ELSE 0 END)) pause \
             ORDER BY n",
        )
        .bind::<Array<Integer>, _>(batch.iter().map(|probe| probe.value).collect::<Vec<_>>())
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(|row| row.txid).collect())
    }
}

/// Runs `test` on a local task set, as on an HTTP worker (batches are
/// spawned on the worker's thread).
async fn on_a_worker<F: Future>(test: F) -> F::Output {
    tokio::task::LocalSet::new().run_until(test).await
}

async fn after<T>(delay_ms: u64, write: impl Future<Output = T>) -> T {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    write.await
}

#[tokio::test]
async fn writes_that_arrive_during_a_batch_share_the_next_one_unless_they_share_a_key() {
    let pool = storefront::db::pool(&test_database().await, 2).unwrap();
    on_a_worker(async {
        let batcher = Batcher::<Probe>::new(pool);
        // A first write opens the connection.
        batcher.write(Probe { key: 0, value: 1 }).await.unwrap();

        // While a slow write is in PostgreSQL, three more arrive: the two
        // with distinct keys go together, the one sharing a key goes later.
        let (slow, a, b, same_key_as_a) = tokio::join!(
            batcher.write(Probe {
                key: 1,
                value: 1000
            }),
            after(200, batcher.write(Probe { key: 2, value: 1 })),
            after(250, batcher.write(Probe { key: 3, value: 1 })),
            after(300, batcher.write(Probe { key: 2, value: 1 })),
        );
        let (slow, a, b, same_key_as_a) = (
            slow.unwrap(),
            a.unwrap(),
            b.unwrap(),
            same_key_as_a.unwrap(),
        );
        assert_eq!(a, b, "arrived together, written together");
        assert_ne!(slow, a, "the first batch had left");
        assert_ne!(same_key_as_a, a, "one key, one write per batch");
    })
    .await;
}

#[tokio::test]
async fn a_write_that_fails_its_batch_fails_alone() {
    let pool = storefront::db::pool(&test_database().await, 2).unwrap();
    on_a_worker(async {
        let batcher = Batcher::<Probe>::new(pool);
        batcher.write(Probe { key: 0, value: 1 }).await.unwrap();

        let (slow, good, bad, also_good) = tokio::join!(
            batcher.write(Probe {
                key: 1,
                value: 1000
            }),
            after(200, batcher.write(Probe { key: 2, value: 1 })),
            after(200, batcher.write(Probe { key: 3, value: 0 })),
            after(200, batcher.write(Probe { key: 4, value: 1 })),
        );

        slow.unwrap();
        let error = bad.unwrap_err();
        assert!(
            matches!(&error, BatchError::Database(e) if e.to_string().contains("division by zero")),
            "{error:?}"
        );
        let (good, also_good) = (good.unwrap(), also_good.unwrap());
        assert_ne!(good, also_good, "tried one by one after the batch failed");
        // The batcher goes on.
        batcher.write(Probe { key: 2, value: 1 }).await.unwrap();
    })
    .await;
}
