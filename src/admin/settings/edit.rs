//! What staff change in the checkout settings: the shop settings, a new
//! shipping rate, a rate replaced (deactivated rather than deleted: orders
//! keep the options they offered). Each change and its audit entry commit
//! together; checkout and the cart read them from the database on every
//! node at their next request.

use diesel_async::AsyncConnection;

use super::domain::{RateInput, SettingsInput, rate_snapshot, settings_snapshot};
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::admin::auth::domain::StaffSession;
use crate::db::{DbError, DbPool};
use crate::shop_settings::domain::InvalidSetting;
use crate::shop_settings::store;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The field and what to fix.
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
    #[error("no such shipping rate")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for SettingsError {
    fn from(error: diesel::result::Error) -> Self {
        SettingsError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for SettingsError {
    fn from(error: crate::db::PoolError) -> Self {
        SettingsError::Database(error.into())
    }
}

fn actor(staff: &StaffSession) -> Actor<'_> {
    Actor::Staff {
        id: staff.staff_id,
        email: &staff.email,
    }
}

/// The audit log's subject for the shop settings (one row).
pub const SETTINGS_SUBJECT: &str = "settings";

fn rate_subject(id: i64) -> String {
    format!("shipping_rate:{id}")
}

/// Replaces the shop settings.
pub async fn save_settings(
    db: &DbPool,
    staff: &StaffSession,
    input: &SettingsInput,
) -> Result<(), SettingsError> {
    let settings = input.check()?;
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let before = store::lock_settings(conn).await?;
        store::update_settings(conn, &settings).await?;
        audit::record(
            conn,
            actor(staff),
            "settings.updated",
            SETTINGS_SUBJECT,
            Some(settings_snapshot(&before)),
            Some(settings_snapshot(&settings)),
        )
        .await?;
        Ok(())
    })
    .await
}

/// Adds a shipping rate; answers its id.
pub async fn create_rate(
    db: &DbPool,
    staff: &StaffSession,
    input: &RateInput,
) -> Result<i64, SettingsError> {
    let draft = input.check()?;
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let id = store::create_shipping_rate(conn, &draft).await?;
        audit::record(
            conn,
            actor(staff),
            "shipping_rate.created",
            &rate_subject(id),
            None,
            Some(rate_snapshot(&draft)),
        )
        .await?;
        Ok(id)
    })
    .await
}

/// Replaces shipping rate `id` (its prices too).
pub async fn update_rate(
    db: &DbPool,
    staff: &StaffSession,
    id: i64,
    input: &RateInput,
) -> Result<(), SettingsError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        // An unknown rate is a 404 whatever the form says.
        let before = store::lock_shipping_rate(conn, id)
            .await?
            .ok_or(SettingsError::NotFound)?;
        let draft = input.check()?;
        store::update_shipping_rate(conn, id, &draft).await?;
        audit::record(
            conn,
            actor(staff),
            "shipping_rate.updated",
            &rate_subject(id),
            Some(rate_snapshot(&before.draft())),
            Some(rate_snapshot(&draft)),
        )
        .await?;
        Ok(())
    })
    .await
}
