//! The API keys this node has verified, kept so that a request's key check
//! needs no query: a key is read once, then answered from memory until a
//! revocation (`api_keys_changed`, sent by a trigger at commit) empties
//! every node's cache. While the listener is not connected, every check
//! reads the database. A key's use is still noted, at most once a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use chrono::{DateTime, Utc};

use super::keys;
use crate::db::listen::Subscriber;
use crate::db::{DbError, DbPool};

/// The channel the `api_keys` triggers notify.
pub const CHANNEL: &str = "api_keys_changed";
/// Keys kept at most; past it the cache starts again, empty.
const CAP: usize = 10_000;

#[derive(Default)]
pub struct ApiKeyCache {
    listening: AtomicBool,
    /// Bumped by every notification: a key read before one is not kept.
    epoch: AtomicU64,
    /// By the key's SHA-256, as stored.
    keys: RwLock<HashMap<Vec<u8>, Known>>,
}

#[derive(Debug, Clone, Copy)]
struct Known {
    id: i64,
    last_used: Option<DateTime<Utc>>,
}

impl ApiKeyCache {
    /// The id of the unrevoked key `token`, noting its use.
    pub async fn authenticate(&self, db: &DbPool, token: &str) -> Result<Option<i64>, DbError> {
        let hash = keys::hash_key(token);
        // Read before the key: a revocation noted after it is not kept over.
        let epoch = self.epoch.load(Ordering::Acquire);
        let kept = self
            .listening
            .load(Ordering::Acquire)
            .then(|| self.read().get(&hash).copied())
            .flatten();
        let mut known = match kept {
            Some(known) => known,
            None => {
                let found = keys::find_unrevoked(&mut *db.get().await?, &hash).await?;
                let Some((id, last_used)) = found else {
                    return Ok(None);
                };
                Known { id, last_used }
            }
        };
        let now = Utc::now();
        if keys::use_to_note(known.last_used, now) {
            keys::note_use(&mut *db.get().await?, known.id).await?;
            known.last_used = Some(now);
        }
        if kept.is_none_or(|kept| kept.last_used != known.last_used) {
            self.keep(hash, known, epoch);
        }
        Ok(Some(known.id))
    }

    /// Keeps a key read (or noted) since `epoch`, unless a revocation came
    /// meanwhile or nobody listens for them.
    fn keep(&self, hash: Vec<u8>, known: Known, epoch: u64) {
        let mut kept = self.write();
        if self.listening.load(Ordering::Acquire) && self.epoch.load(Ordering::Acquire) == epoch {
            if kept.len() >= CAP {
                kept.clear();
            }
            kept.insert(hash, known);
        }
    }

    /// Keys kept now.
    pub fn kept(&self) -> usize {
        self.read().len()
    }

    /// Whether keys are kept: only while the listener is connected.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    fn forget(&self) {
        let mut kept = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        kept.clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Vec<u8>, Known>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Vec<u8>, Known>> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Subscriber for ApiKeyCache {
    fn connected(&self) {
        self.forget();
        self.listening.store(true, Ordering::Release);
    }

    fn disconnected(&self) {
        self.listening.store(false, Ordering::Release);
    }

    fn notified(&self, _payload: &str) {
        self.forget();
    }
}
