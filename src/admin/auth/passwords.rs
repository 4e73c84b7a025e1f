//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes,
//! one lane), on a blocking thread so that a sign-in never stalls the
//! request workers.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a fresh salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Whether `password` matches `hash`. `None` (an unknown email) checks a
/// dummy hash instead, so that it takes as long as a wrong password.
pub async fn verify(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.as_deref().unwrap_or(&DUMMY_HASH);
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok();
        Ok(matches && known)
    })
    .await?
}

/// The hash an unknown email is checked against.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_now("no account has this password").unwrap_or_else(|_| {
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("Plum-Kettle-Orbit-42".to_owned()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify("Plum-Kettle-Orbit-42".to_owned(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("plum-kettle-orbit-42".to_owned(), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !verify("no account has this password".to_owned(), None)
                .await
                .unwrap()
        );
    }
}
