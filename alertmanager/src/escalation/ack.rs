//! Signed, expiring acknowledgement links. A token is URL-safe base64 of
//! `version | expires_at (i64 BE) | id length | incident id | recipient | HMAC-SHA256`, the MAC
//! over everything before it, so no byte can change without the signature failing; expiry is
//! checked only after the signature, so it cannot be extended by editing it.

use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::config::{AckSettings, CONFIG_KEY};
use crate::storage::{StateDb, StorageError};

/// The environment variable holding the link-signing secret.
pub const ACK_SECRET_ENV: &str = "PHAROS_ALERTING__ACK_SECRET";
/// Where a generated key is kept when no secret is configured.
const META_SPACE: &str = "escalation_meta";
const GENERATED_KEY: &[u8] = b"ack_signing_key";
const MIN_SECRET_BYTES: usize = 32;
const TOKEN_VERSION: u8 = 1;
const MAC_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum AckKeyError {
    #[error("{source_name}: the acknowledgement secret must be at least {MIN_SECRET_BYTES} bytes")]
    TooShort { source_name: String },
    #[error("{CONFIG_KEY}.ack.secret_file: cannot read {path}: {error}")]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The key acknowledgement links are signed with. Never printed.
#[derive(Clone)]
pub struct AckKey(Vec<u8>);

impl std::fmt::Debug for AckKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckKey(<secret>)")
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckClaims {
    pub incident_id: String,
    pub expires_at_ns: i64,
    /// Whom the link was sent to ("" when it was made for no one in particular).
    pub recipient: String,
}

impl AckKey {
    pub fn from_secret(secret: &[u8], source_name: &str) -> Result<AckKey, AckKeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AckKeyError::TooShort {
                source_name: source_name.to_string(),
            });
        }
        Ok(AckKey(secret.to_vec()))
    }

    /// The key from `PHAROS_ALERTING__ACK_SECRET`, else `secret_file`, else the one generated
    /// on first use and kept in `db` (so links survive restarts).
    pub fn load(settings: &AckSettings, db: &dyn StateDb) -> Result<AckKey, AckKeyError> {
        Self::load_with(std::env::var(ACK_SECRET_ENV).ok(), settings, db)
    }

    /// [`AckKey::load`] with the environment variable's value passed in (for tests, and for a
    /// config loader that has already read it).
    pub fn load_with(
        env_secret: Option<String>,
        settings: &AckSettings,
        db: &dyn StateDb,
    ) -> Result<AckKey, AckKeyError> {
        if let Some(secret) = env_secret.filter(|s| !s.trim().is_empty()) {
            return Self::from_secret(secret.trim().as_bytes(), ACK_SECRET_ENV);
        }
        if let Some(path) = &settings.secret_file {
            let text = std::fs::read_to_string(path).map_err(|error| AckKeyError::File {
                path: path.clone(),
                error,
            })?;
            return Self::from_secret(
                text.trim().as_bytes(),
                &format!("{CONFIG_KEY}.ack.secret_file"),
            );
        }
        if let Some(stored) = db.get(META_SPACE, GENERATED_KEY)? {
            if stored.len() >= MIN_SECRET_BYTES {
                return Ok(AckKey(stored));
            }
        }
        let mut key = vec![0u8; MIN_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        db.put(META_SPACE, GENERATED_KEY, key.clone())?;
        Ok(AckKey(key))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// A token for `incident_id`, valid until `expires_at_ns`.
    pub fn sign(&self, incident_id: &str, expires_at_ns: i64, recipient: &str) -> String {
        let id = truncate(incident_id, usize::from(u8::MAX));
        let mut bytes = Vec::with_capacity(10 + id.len() + recipient.len() + MAC_BYTES);
        bytes.push(TOKEN_VERSION);
        bytes.extend_from_slice(&expires_at_ns.to_be_bytes());
        bytes.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(recipient.as_bytes());
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The claims of a token this key signed; `None` for anything else (altered, truncated,
    /// signed with another key, not a token). Expiry is the caller's check.
    pub fn verify(&self, token: &str) -> Option<AckClaims> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        let split = bytes.len().checked_sub(MAC_BYTES)?;
        let (payload, tag) = bytes.split_at(split);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_slice(tag).ok()?; // constant time
        let (&version, rest) = payload.split_first()?;
        if version != TOKEN_VERSION || rest.len() < 9 {
            return None;
        }
        let (expires, rest) = rest.split_at(8);
        let expires_at_ns = i64::from_be_bytes(expires.try_into().ok()?);
        let (&id_len, rest) = rest.split_first()?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len {
            return None;
        }
        let (id, recipient) = rest.split_at(id_len);
        Some(AckClaims {
            incident_id: String::from_utf8(id.to_vec()).ok()?,
            expires_at_ns,
            recipient: String::from_utf8(recipient.to_vec()).ok()?,
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStateDb;

    #[test]
    fn every_altered_byte_and_another_key_fail() {
        let key = AckKey::from_secret(&[7u8; 32], "test").unwrap();
        let token = key.sign("a1b2c3", 1_000, "Alice <alice@example.com>");
        let claims = key.verify(&token).unwrap();
        assert_eq!(claims.incident_id, "a1b2c3");
        assert_eq!(claims.expires_at_ns, 1_000);
        assert_eq!(claims.recipient, "Alice <alice@example.com>");

        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() {
            let mut altered = raw.clone();
            altered[i] ^= 0x01;
            assert_eq!(
                key.verify(&URL_SAFE_NO_PAD.encode(&altered)),
                None,
                "byte {i}"
            );
        }
        assert_eq!(key.verify(&token[..token.len() - 1]), None);
        assert_eq!(key.verify("not a token!"), None);
        assert_eq!(key.verify(""), None);
        let other = AckKey::from_secret(&[8u8; 32], "test").unwrap();
        assert_eq!(other.verify(&token), None);
    }

    #[test]
    fn key_sources_env_then_file_then_generated_once() {
        let db = MemStateDb::default();
        let settings = AckSettings::default();
        assert!(matches!(
            AckKey::load_with(Some("short".into()), &settings, &db),
            Err(AckKeyError::TooShort { .. })
        ));
        let env_key = AckKey::load_with(Some("e".repeat(40)), &settings, &db).unwrap();
        assert_eq!(env_key.0, "e".repeat(40).into_bytes());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, format!("{}\n", "f".repeat(32))).unwrap();
        let with_file = AckSettings {
            secret_file: Some(file),
            ..AckSettings::default()
        };
        assert_eq!(
            AckKey::load_with(None, &with_file, &db).unwrap().0,
            "f".repeat(32).into_bytes()
        );

        let generated = AckKey::load_with(None, &settings, &db).unwrap();
        let again = AckKey::load_with(None, &settings, &db.clone()).unwrap();
        assert_eq!(generated.0, again.0, "kept in the state database");
        assert_eq!(generated.0.len(), 32);
        assert_ne!(
            generated.0,
            AckKey::load_with(None, &settings, &MemStateDb::default())
                .unwrap()
                .0
        );
        assert_eq!(format!("{generated:?}"), "AckKey(<secret>)");
    }
}
