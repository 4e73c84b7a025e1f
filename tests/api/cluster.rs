//! The private PostgreSQL cluster: where it lives, and who stops it.

use std::os::unix::fs::PermissionsExt;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use storefront::db::cluster::{Durability, LocalCluster};

fn temp_dir(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "storefront-{what}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

async fn answers(cluster: &LocalCluster) -> bool {
    match AsyncPgConnection::establish(cluster.url("postgres").expose()).await {
        Ok(mut conn) => conn.batch_execute("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_command_that_adopted_a_running_cluster_leaves_it_running() {
    // The store runs; `storefront api-key create` finds its cluster running.
    let dir = temp_dir("adopted");
    let store = LocalCluster::start(&dir, Durability::Ephemeral)
        .await
        .unwrap();
    let command = LocalCluster::start(&dir, Durability::Ephemeral)
        .await
        .unwrap();
    assert_eq!(
        command.url("postgres").expose(),
        store.url("postgres").expose()
    );

    command.stop().await.unwrap();

    assert!(answers(&store).await, "the store's database is still up");
    store.stop().await.unwrap();
    assert!(
        !answers(&store).await,
        "the process that started it stops it"
    );
}

#[tokio::test]
async fn a_data_directory_the_postgres_user_cannot_reach_is_moved_where_it_can() {
    // As under /root (0700), where a checkout of this project commonly is.
    let closed = temp_dir("closed");
    std::fs::create_dir_all(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let wanted = closed.join("postgres");

    let cluster = LocalCluster::start(&wanted, Durability::Ephemeral)
        .await
        .unwrap();

    assert!(answers(&cluster).await);
    let root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root.unwrap() {
        // PostgreSQL runs as `postgres`, who cannot enter `closed`.
        assert!(
            cluster.data_dir().starts_with("/var/lib/storefront"),
            "{:?}",
            cluster.data_dir()
        );
        assert!(
            !wanted.exists(),
            "no empty directory left where it was wanted"
        );
    } else {
        // PostgreSQL runs as this user, who can.
        assert_eq!(cluster.data_dir(), wanted.canonicalize().unwrap());
    }
    cluster.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&closed);
}
