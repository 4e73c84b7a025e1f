//! Nodes that start at the same moment on a fresh database, and
//! `storefront migrate`: the real binary, as a deploy runs it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use storefront::config::Secret;
use storefront::db;
use uuid::Uuid;

use crate::helpers::{cluster, free_port};

/// The storefront binary against `db_url` (and nothing else from this
/// process's environment), its working files in a fresh directory.
pub fn storefront_cli(db_url: &Secret) -> tokio::process::Command {
    let data_dir = std::env::temp_dir().join(format!("storefront-cli-{}", Uuid::new_v4().simple()));
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storefront"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("METRICS_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", db_url.expose())
        .env("DATA_DIR", &data_dir)
        .env("SESSION_KEY", "start-together-session-key-".repeat(3))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// An empty database (no migrations) on the tests' cluster.
async fn empty_database() -> Secret {
    let cluster = cluster().await;
    let name = format!("empty_{}", Uuid::new_v4().simple());
    db::create_database(&cluster.url("postgres"), &name, None)
        .await
        .unwrap();
    cluster.url(&name)
}

/// How many migrations the crate embeds (one directory each).
pub fn migrations_in_crate() -> i64 {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count() as i64
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

pub async fn migrations_applied(db_url: &Secret) -> i64 {
    let mut conn = db::connect(db_url).await.unwrap();
    let applied: Count =
        diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations")
            .get_result(&mut conn)
            .await
            .unwrap();
    applied.count
}

/// A node's stdout and stderr, for the failure message.
fn output_of(log: &std::path::Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test]
async fn three_nodes_started_together_on_a_fresh_database_all_serve() {
    let db_url = empty_database().await;
    let logs = std::env::temp_dir().join(format!("storefront-nodes-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&logs).unwrap();
    let mut nodes = Vec::new();
    for n in 0..3 {
        let port = free_port();
        let log_path = logs.join(format!("node{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        // Logs to a file: an unread pipe could fill and stall the node.
        let child = storefront_cli(&db_url)
            .env("BIND", format!("127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        nodes.push((child, port, log_path));
    }

    storefront::install_tls_provider();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (child, port, log) in &mut nodes {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("a node exited ({status}):\n{}", output_of(log));
            }
            let page = client.get(format!("http://127.0.0.1:{port}/")).send().await;
            if page.is_ok_and(|page| page.status().is_success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a node did not serve within 60 s:\n{}",
                output_of(log)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    assert_eq!(migrations_applied(&db_url).await, migrations_in_crate());
    for (mut child, _, _) in nodes {
        child.kill().await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test]
async fn storefront_migrate_migrates_an_empty_database_and_exits() {
    let db_url = empty_database().await;

    for run in ["first", "second"] {
        let output = storefront_cli(&db_url)
            .arg("migrate")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{run} run: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("database migrations are up to date"),
            "{stdout}"
        );
        // The second run finds nothing pending and changes nothing.
        assert_eq!(migrations_applied(&db_url).await, migrations_in_crate());
    }
}
