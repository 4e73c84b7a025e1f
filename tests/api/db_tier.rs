//! The database tier beyond one server: three nodes behind nginx write
//! through PgBouncer and read payment history and the catalog from a hot
//! standby (DATABASE_READ_URL). A client reads what it has just written at
//! once, on whichever node it asks, even when the standby is held back; a
//! standby that stops leaves the reads to the primary.

mod harness;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use self::harness::DbTier;
use crate::multinode::{Nodes, start_nodes_with};

/// The nodes' reads by server, summed over the nodes (`/metrics`).
#[derive(Debug, Default, Clone, Copy)]
struct ReadCounts {
    standby: u64,
    primary: u64,
    behind: u64,
    unavailable: u64,
}

async fn read_counts(nodes: &Nodes) -> ReadCounts {
    let mut counts = ReadCounts::default();
    for url in &nodes.metrics_urls {
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        for line in text.lines() {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let field = match name {
                r#"storefront_db_reads_total{server="standby"}"# => &mut counts.standby,
                r#"storefront_db_reads_total{server="primary"}"# => &mut counts.primary,
                r#"storefront_db_read_fallbacks_total{reason="behind"}"# => &mut counts.behind,
                r#"storefront_db_read_fallbacks_total{reason="unavailable"}"# => {
                    &mut counts.unavailable
                }
                _ => continue,
            };
            *field += value.parse::<u64>().unwrap();
        }
    }
    counts
}

/// The payments API of every node, with one key.
struct Api<'a> {
    client: reqwest::Client,
    key: String,
    account: String,
    nodes: &'a [String],
}

impl Api<'_> {
    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let answer = request.bearer_auth(&self.key).send().await.unwrap();
        (answer.status(), answer.json().await.unwrap())
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node % self.nodes.len()])
    }

    /// Pair `n`: a debit on one node, read back at once on the others (the
    /// payment, then the account's history); every fifth also changes the
    /// payment's description and reads that back on yet another node.
    async fn create_then_read(&self, n: usize) {
        let amount = format!("{}.{:02}", 1 + n / 100, n % 100);
        let (status, created) = self
            .send(
                self.client
                    .post(self.url(n, "/api/v1/payments"))
                    .header("Idempotency-Key", format!("tier-{n}"))
                    .json(
                        &json!({"account_id": self.account, "amount": amount, "currency": "usd"}),
                    ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let (status, read) = self
            .send(
                self.client
                    .get(self.url(n + 1, &format!("/api/v1/payments/{id}"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "pair {n}: {read}");
        assert_eq!(read["amount"], amount.as_str(), "pair {n}");
        // Up to three other pairs run alongside: their debits may be newer.
        let history = format!("/api/v1/accounts/{}/payments?limit=10", self.account);
        let (status, page) = self.send(self.client.get(self.url(n + 2, &history))).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let listed = page["data"].as_array().unwrap();
        assert!(listed.iter().any(|p| p["id"] == id), "pair {n}: {page}");
        if n.is_multiple_of(5) {
            let description = format!("pair {n}, changed");
            let (status, updated) = self
                .send(
                    self.client
                        .patch(self.url(n + 1, &format!("/api/v1/payments/{id}")))
                        .json(&json!({"version": read["version"], "description": description})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{updated}");
            let (_, again) = self
                .send(
                    self.client
                        .get(self.url(n + 2, &format!("/api/v1/payments/{id}"))),
                )
                .await;
            assert_eq!(again["description"], description.as_str(), "pair {n}");
            assert_eq!(again["version"], updated["version"], "pair {n}");
        }
    }

    /// Pairs `range`, four at a time.
    async fn pairs(&self, range: std::ops::Range<usize>) {
        futures_util::stream::iter(range)
            .for_each_concurrent(4, |n| self.create_then_read(n))
            .await;
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[tokio::test]
async fn a_standby_serves_reads_and_every_client_reads_its_writes_on_any_node() {
    let tier = DbTier::start().await;
    let nodes = start_nodes_with(
        tier.primary_url(),
        &[
            ("DATABASE_URL", tier.pooled_url().expose().to_owned()),
            ("DATABASE_READ_URL", tier.standby_url().expose().to_owned()),
            // No budget for calls to the simulator: this test is about reads.
            ("STRIPE_WRITES_PER_SECOND", "0".to_owned()),
        ],
    )
    .await;
    let (account, key) = nodes.saved_card_account().await;
    let api = Api {
        client: reqwest::Client::new(),
        key,
        account,
        nodes: &nodes.node_urls,
    };

    // A standby held back a second: a read sent to it at once would not
    // find the payment just made. Every read still does.
    tier.delay_standby("1s").await;
    api.pairs(0..100).await;
    let held_back = read_counts(&nodes).await;
    assert!(held_back.behind > 0, "{held_back:?}");

    // Caught up and no longer held back: the standby serves the reads, and
    // every read still finds its write.
    tier.delay_standby("0").await;
    tier.wait_for_standby().await;
    api.pairs(100..200).await;
    let caught_up = read_counts(&nodes).await;
    assert!(caught_up.standby > held_back.standby, "{caught_up:?}");
    // The standby's own view: the nodes' connections there read payments.
    let mut standby = AsyncPgConnection::establish(tier.standby_url().expose())
        .await
        .unwrap();
    let reading: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND datname = 'storefront' AND query LIKE '%payments%'",
    )
    .get_result(&mut standby)
    .await
    .unwrap();
    assert!(reading.count > 0, "no payment read on the standby");
    drop(standby);

    // The standby stops: reads go on, from the primary.
    tier.standby.stop().await.unwrap();
    for n in 200..206 {
        api.create_then_read(n).await;
    }
    let stopped = read_counts(&nodes).await;
    assert!(stopped.unavailable > caught_up.unavailable, "{stopped:?}");
    assert!(stopped.primary > caught_up.primary, "{stopped:?}");

    nodes.stop().await;
    tier.stop().await;
}
