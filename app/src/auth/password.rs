//! Password hashing (argon2id, on blocking threads) and random secrets.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use std::sync::Mutex;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::AppError;

/// Hashes with argon2id (the crate's defaults: 19 MiB, 2 passes), on a blocking thread:
/// a hash takes tens of milliseconds of CPU, which would stall every request on the runtime.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::internal("hashing a password", e))
    })
    .await
    .map_err(|e| AppError::internal("hashing a password", e))?
}

/// Whether `password` matches `hash`, on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// The argon2 memory of finished checks (19 MiB each), reused by the next ones: as many as
/// ever ran at once, which the login limiter bounds. Allocating it afresh for each check
/// would leave every blocking thread's allocator holding its own copies (hundreds of MiB
/// after a login flood, never given back).
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// `password` against the PHC string `hash`, in reused memory; the comparison is constant
/// time (`Output`'s equality).
fn verify(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let mut blocks = crate::locks::lock(&MEMORY).pop().unwrap_or_default();
    blocks.resize(params.block_count(), Block::default());
    let hashed = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..])
        .is_ok();
    crate::locks::lock(&MEMORY).push(blocks);
    hashed && Output::new(&out).is_ok_and(|out| out == expected)
}

/// A hash of a random password, verified against when the username is unknown, so that a
/// wrong username takes as long to refuse as a wrong password and timing reveals nothing.
pub static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(random_secret(16).as_bytes(), &salt)
        .expect("hashing a random password")
        .to_string()
});

/// `bytes` random bytes, hex-encoded.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_in_reused_memory_agree_with_argon2() {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        // Smaller parameters too: the reused memory follows each hash's own.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"battery staple", &salt)
        .unwrap()
        .to_string();
        for _ in 0..2 {
            assert!(verify("correct horse", &hash));
            assert!(!verify("correct horsf", &hash));
            assert!(verify("battery staple", &small));
            assert!(!verify("correct horse", &small));
        }
        assert!(!verify("anything", "not a PHC string"));
        assert!(crate::locks::lock(&MEMORY).len() <= 2);
    }
}
