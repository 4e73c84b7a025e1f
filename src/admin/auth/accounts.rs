//! Staff accounts as the operator manages them on the server
//! (`storefront admin ...`): create, list, disable, reset a password. Each
//! change is audited as made from the command line.

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::domain::{StaffEmail, StaffMember, check_new_password};
use super::{passwords, store};
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;

/// Creates an account; its password must pass `check_new_password`.
pub async fn create(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: String,
) -> anyhow::Result<i64> {
    let email = StaffEmail::parse(email).map_err(anyhow::Error::msg)?;
    check_new_password(&password, &email)?;
    let hash = passwords::hash(password).await?;
    conn.transaction(async |conn| {
        let id = store::insert(conn, email.as_str(), &hash)
            .await?
            .with_context(|| format!("a staff account for {} already exists", email.as_str()))?;
        audit::record(
            conn,
            Actor::CommandLine,
            "staff.created",
            &format!("staff:{id}"),
            None,
            Some(json!({"email": email.as_str()})),
        )
        .await?;
        Ok(id)
    })
    .await
}

pub async fn list(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<StaffMember>> {
    Ok(store::list(conn).await?)
}

/// Disables the account at `email`: it cannot sign in, and its sessions end now.
pub async fn disable(conn: &mut AsyncPgConnection, email: &str) -> anyhow::Result<()> {
    let member = existing(conn, email).await?;
    conn.transaction(async |conn| {
        anyhow::ensure!(
            store::disable(conn, member.id).await?,
            "{} is already disabled",
            member.email
        );
        audit::record(
            conn,
            Actor::CommandLine,
            "staff.disabled",
            &format!("staff:{}", member.id),
            Some(json!({"disabled": false})),
            Some(json!({"disabled": true})),
        )
        .await?;
        Ok(())
    })
    .await
}

/// A new password for the account at `email`: it is enabled again, and
/// signed out everywhere.
pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: String,
) -> anyhow::Result<()> {
    let member = existing(conn, email).await?;
    let parsed = StaffEmail::parse(&member.email).map_err(anyhow::Error::msg)?;
    check_new_password(&password, &parsed)?;
    let hash = passwords::hash(password).await?;
    conn.transaction(async |conn| {
        store::set_password(conn, member.id, &hash).await?;
        audit::record(
            conn,
            Actor::CommandLine,
            "staff.password_reset",
            &format!("staff:{}", member.id),
            Some(json!({"disabled": member.disabled_at.is_some()})),
            Some(json!({"disabled": false})),
        )
        .await?;
        Ok(())
    })
    .await
}

async fn existing(conn: &mut AsyncPgConnection, email: &str) -> anyhow::Result<StaffMember> {
    store::find_by_email(conn, email.trim())
        .await?
        .with_context(|| format!("no staff account for {}", email.trim()))
}
