//! API keys kept per node: a key is checked against the database once,
//! then from memory (a transaction holding every lock on `api_keys` does
//! not hold a request up), and a revocation reaches every node through
//! `NOTIFY api_keys_changed`. Observed through each node's metrics.

use std::time::Duration;

use super::*;
use crate::helpers::spawn_with_vars;

/// Waits until the node listens for revocations: from then on it keeps keys.
async fn listening(app: &TestApp) {
    app.eventually("the API key listener connects", || async {
        app.metric("storefront_api_keys_listening ").await == Some(1.0)
    })
    .await;
}

#[tokio::test]
async fn keys_are_checked_from_memory_and_a_revocation_reaches_every_node() {
    let a = spawn_app().await;
    let b = spawn_with_vars(vec![(
        "DATABASE_URL".to_owned(),
        a.db_url.expose().to_owned(),
    )])
    .await;
    let api = Api::new(&a).await;
    let key = api.key.clone();
    let get = |node: &TestApp| {
        let request = reqwest::Client::new()
            .get(node.url("/api/v1/openapi.json"))
            .bearer_auth(&key);
        async move { request.send().await.unwrap().status() }
    };
    for node in [&a, &b] {
        listening(node).await;
        assert_eq!(get(node).await, StatusCode::OK);
        assert_eq!(node.metric("storefront_api_keys_kept ").await, Some(1.0));
    }

    // Kept keys need no query: a transaction holding every lock on
    // api_keys does not hold their requests up.
    let mut locker = a.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for node in [&a, &b] {
        let status = tokio::time::timeout(Duration::from_secs(5), get(node))
            .await
            .expect("the key check waited for the lock on api_keys");
        assert_eq!(status, StatusCode::OK);
    }
    locker.batch_execute("ROLLBACK").await.unwrap();

    // Revoked from another connection (the CLI): refused on both nodes.
    let revoked = storefront::payments_api::keys::revoke_key(&mut a.db().await, &key[..17])
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    for node in [&a, &b] {
        node.eventually("the revoked key is refused", || async {
            get(node).await == StatusCode::UNAUTHORIZED
        })
        .await;
        assert_eq!(node.metric("storefront_api_keys_kept ").await, Some(0.0));
    }
    // And stays refused: a refusal is not kept, the database says no again.
    for node in [&a, &b] {
        assert_eq!(get(node).await, StatusCode::UNAUTHORIZED);
    }
    // Another key still works on both.
    let other = Api::new(&a).await;
    for node in [&a, &b] {
        let status = reqwest::Client::new()
            .get(node.url("/api/v1/openapi.json"))
            .bearer_auth(&other.key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_kept_key_notes_its_use_at_most_once_a_minute() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    listening(&app).await;
    let last_used = || async {
        use storefront::db::schema::api_keys;
        api_keys::table
            .select(api_keys::last_used_at)
            .filter(api_keys::prefix.eq(&api.key[..17]))
            .first::<Option<chrono::DateTime<chrono::Utc>>>(&mut app.db().await)
            .await
            .unwrap()
    };
    assert_eq!(last_used().await, None);
    assert_eq!(api.get("/api/v1/openapi.json").await.0, StatusCode::OK);
    let first = last_used().await.expect("noted at first use");
    for _ in 0..5 {
        assert_eq!(api.get("/api/v1/openapi.json").await.0, StatusCode::OK);
    }
    assert_eq!(
        last_used().await,
        Some(first),
        "not noted again within the minute"
    );

    // A minute later (moved back in the database and forgotten by the node
    // as a revocation elsewhere would make it): noted again.
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE api_keys SET last_used_at = now() - interval '2 minutes', revoked_at = NULL \
             WHERE prefix = '{}'",
            &api.key[..17]
        ))
        .await
        .unwrap();
    app.eventually("the node forgot the key", || async {
        app.metric("storefront_api_keys_kept ").await == Some(0.0)
    })
    .await;
    assert_eq!(api.get("/api/v1/openapi.json").await.0, StatusCode::OK);
    assert!(last_used().await > Some(first));
}
