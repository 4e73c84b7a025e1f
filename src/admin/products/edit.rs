//! What staff do to products: create and edit them (with an image), change
//! their stock with a reason, archive, restore or delete them. Each change
//! and its audit entry commit together.

use std::path::Path;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::domain::{
    AdminProduct, FieldErrors, PLACEHOLDER_IMAGE, ProductDraft, ProductInput, slugify,
};
use super::store;
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::admin::auth::domain::StaffSession;
use crate::db::{DbError, DbPool};
use crate::media::images::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// What is wrong with each field (the image's under "image").
    #[error("the form has errors")]
    Invalid(FieldErrors),
    #[error("no such product")]
    NotFound,
    /// A stock change that would take it below zero (or above the maximum).
    #[error("the stock cannot change by that much")]
    StockOutOfRange { stock: Option<i32> },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for ProductError {
    fn from(error: diesel::result::Error) -> Self {
        ProductError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for ProductError {
    fn from(error: crate::db::PoolError) -> Self {
        ProductError::Database(error.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ProductError {
    ProductError::Invalid(FieldErrors::from([(field, message.into())]))
}

fn actor(staff: &StaffSession) -> Actor<'_> {
    Actor::Staff {
        id: staff.staff_id,
        email: &staff.email,
    }
}

fn subject(id: i64) -> String {
    format!("product:{id}")
}

/// Stores an uploaded image (checked and re-encoded) and answers its path.
async fn store_image(upload_dir: &Path, image: Vec<u8>) -> Result<String, ProductError> {
    match images::store(upload_dir, image).await {
        Ok(stored) => Ok(stored.path),
        Err(StoreError::Refused(error)) => Err(invalid("image", error.to_string())),
        Err(StoreError::Io(error)) => Err(error.into()),
    }
}

/// A new product; its slug is made from its name unless given (and then
/// numbered, "-2", "-3"..., should it be taken).
pub async fn create(
    db: &DbPool,
    staff: &StaffSession,
    input: &ProductInput,
    image: Option<Vec<u8>>,
    upload_dir: &Path,
) -> Result<AdminProduct, ProductError> {
    let draft = input.check();
    let stock = input.starting_stock();
    let (draft, stock) = match (draft, stock) {
        (Ok(draft), Ok(stock)) => (draft, stock),
        (draft, stock) => {
            let mut errors = draft.err().unwrap_or_default();
            if let Err(message) = stock {
                errors.insert("stock", message);
            }
            return Err(ProductError::Invalid(errors));
        }
    };
    let image_path = match image {
        Some(image) => store_image(upload_dir, image).await?,
        None => PLACEHOLDER_IMAGE.to_owned(),
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let product = insert_with_slug(conn, &draft, stock, &image_path).await?;
        audit::record(
            conn,
            actor(staff),
            "product.created",
            &subject(product.id),
            None,
            Some(product.snapshot()),
        )
        .await?;
        Ok(product)
    })
    .await
}

async fn insert_with_slug(
    conn: &mut AsyncPgConnection,
    draft: &ProductDraft,
    stock: Option<i32>,
    image_path: &str,
) -> Result<AdminProduct, ProductError> {
    if let Some(slug) = &draft.slug {
        return conn
            .transaction(async |conn| {
                store::insert(conn, draft, slug.as_str(), stock, image_path).await
            })
            .await
            .map_err(|error| slug_error(error, slug.as_str()));
    }
    let base = slugify(&draft.name);
    for n in 1..=50 {
        let slug = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        // A savepoint each: a taken slug must not abort the transaction.
        let inserted = conn
            .transaction(async |conn| store::insert(conn, draft, &slug, stock, image_path).await)
            .await;
        match inserted {
            Err(error) if store::is_slug_taken(&error) => continue,
            other => return Ok(other?),
        }
    }
    Err(invalid(
        "slug",
        "Many products have names like this one: please choose a slug.",
    ))
}

fn slug_error(error: diesel::result::Error, slug: &str) -> ProductError {
    if store::is_slug_taken(&error) {
        invalid(
            "slug",
            format!("Another product already uses the slug \u{201c}{slug}\u{201d}."),
        )
    } else {
        error.into()
    }
}

/// Saves the product's fields (and a new image, if one came).
pub async fn update(
    db: &DbPool,
    staff: &StaffSession,
    id: i64,
    input: &ProductInput,
    image: Option<Vec<u8>>,
    upload_dir: &Path,
) -> Result<AdminProduct, ProductError> {
    let draft = input.check().map_err(ProductError::Invalid)?;
    let new_image = match image {
        Some(image) => Some(store_image(upload_dir, image).await?),
        None => None,
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let before = store::lock(conn, id).await?.ok_or(ProductError::NotFound)?;
        if before.archived_at.is_some() && draft.active {
            return Err(invalid(
                "active",
                "Restore the product from the archive before putting it on sale.",
            ));
        }
        let slug = draft
            .slug
            .as_ref()
            .map_or(before.slug.as_str(), |s| s.as_str());
        let image_path = new_image.as_deref().unwrap_or(&before.image_path);
        let after = conn
            .transaction(async |conn| store::update(conn, id, &draft, slug, image_path).await)
            .await
            .map_err(|error| slug_error(error, slug))?;
        audit::record(
            conn,
            actor(staff),
            "product.updated",
            &subject(id),
            Some(before.snapshot()),
            Some(after.snapshot()),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Adds (or with a negative `delta`, removes) units of tracked stock, with
/// the reason recorded.
pub async fn change_stock(
    db: &DbPool,
    staff: &StaffSession,
    id: i64,
    delta: i32,
    reason: &str,
) -> Result<i32, ProductError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let Some(stock) = store::change_stock(conn, id, delta).await? else {
            let product = store::find(conn, id).await?.ok_or(ProductError::NotFound)?;
            return Err(ProductError::StockOutOfRange {
                stock: product.stock,
            });
        };
        let before = stock - delta;
        store::record_adjustment(conn, id, staff.staff_id, delta, reason, Some(stock)).await?;
        audit::record(
            conn,
            actor(staff),
            "product.stock_changed",
            &subject(id),
            Some(json!({"stock": before})),
            Some(json!({"stock": stock, "reason": reason})),
        )
        .await?;
        Ok(stock)
    })
    .await
}

/// Makes stock unlimited (`None`), or starts tracking it at `start`.
pub async fn set_tracking(
    db: &DbPool,
    staff: &StaffSession,
    id: i64,
    start: Option<i32>,
    reason: &str,
) -> Result<(), ProductError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let product = store::lock(conn, id).await?.ok_or(ProductError::NotFound)?;
        if product.stock.is_some() == start.is_some() {
            // Already so (a second click): nothing to do.
            return Ok(());
        }
        store::set_stock(conn, id, start).await?;
        let delta = start.unwrap_or(0);
        store::record_adjustment(conn, id, staff.staff_id, delta, reason, start).await?;
        audit::record(
            conn,
            actor(staff),
            "product.stock_changed",
            &subject(id),
            Some(json!({"stock": product.stock})),
            Some(json!({"stock": start, "reason": reason})),
        )
        .await
        .map_err(ProductError::from)
    })
    .await
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Deleted,
    /// Orders name it, so it was archived instead.
    Archived,
}

/// Deletes the product, or archives it when orders name it (they keep
/// their snapshot of it, but the product must stay for them).
pub async fn delete(db: &DbPool, staff: &StaffSession, id: i64) -> Result<Removed, ProductError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        // Locked first: an order naming it now waits, and is seen below.
        let product = store::lock(conn, id).await?.ok_or(ProductError::NotFound)?;
        if store::order_lines(conn, id).await? > 0 {
            archive_locked(conn, staff, &product).await?;
            return Ok(Removed::Archived);
        }
        store::delete(conn, id).await?;
        audit::record(
            conn,
            actor(staff),
            "product.deleted",
            &subject(id),
            Some(product.snapshot()),
            None,
        )
        .await?;
        Ok(Removed::Deleted)
    })
    .await
}

pub async fn archive(db: &DbPool, staff: &StaffSession, id: i64) -> Result<(), ProductError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let product = store::lock(conn, id).await?.ok_or(ProductError::NotFound)?;
        archive_locked(conn, staff, &product).await
    })
    .await
}

async fn archive_locked(
    conn: &mut AsyncPgConnection,
    staff: &StaffSession,
    product: &AdminProduct,
) -> Result<(), ProductError> {
    if product.archived_at.is_some() {
        return Ok(());
    }
    store::archive(conn, product.id).await?;
    let after = store::find(conn, product.id)
        .await?
        .ok_or(ProductError::NotFound)?;
    audit::record(
        conn,
        actor(staff),
        "product.archived",
        &subject(product.id),
        Some(product.snapshot()),
        Some(after.snapshot()),
    )
    .await?;
    Ok(())
}

/// Back from the archive, as a draft.
pub async fn restore(db: &DbPool, staff: &StaffSession, id: i64) -> Result<(), ProductError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        let product = store::lock(conn, id).await?.ok_or(ProductError::NotFound)?;
        if product.archived_at.is_none() {
            return Ok(());
        }
        store::restore(conn, id).await?;
        let after = store::find(conn, id).await?.ok_or(ProductError::NotFound)?;
        audit::record(
            conn,
            actor(staff),
            "product.restored",
            &subject(id),
            Some(product.snapshot()),
            Some(after.snapshot()),
        )
        .await?;
        Ok(())
    })
    .await
}
