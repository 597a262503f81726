//! API keys: generated here, shown once, stored only as a SHA-256 hash.

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Role, Store, StoreError, now_ms, rfc3339};

/// The prefix of every key.
pub const KEY_PREFIX: &str = "tgw_";

/// A new random key: `tgw_` + 32 random bytes, base64url without padding.
pub fn generate_key() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Db(format!("no randomness: {e}")))?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a key: SHA-256, lower-case hex.
pub fn hash_key(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in key_digest(key) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// The SHA-256 of a key, as bytes (what [`hash_key`] writes in hex).
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn random_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Db(format!("no randomness: {e}")))?;
    Ok(format!(
        "key_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// What `keys create` takes.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub user: String,
    pub name: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub budget_usd: Option<f64>,
    pub models: Vec<String>,
    /// Unix milliseconds.
    pub expires_at: Option<i64>,
}

/// A key as `keys list --json` shows it (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub name: Option<String>,
    pub user: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub budget_usd: Option<f64>,
    pub models: Vec<String>,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    #[serde(skip)]
    pub expires_at_ms: Option<i64>,
}

/// A key found by its hash, with its owner's role.
#[derive(Debug, Clone)]
pub struct AuthedKey {
    pub key: KeyInfo,
    pub role: Role,
}

impl AuthedKey {
    /// Usable now: not revoked, not expired.
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        !self.key.revoked && self.key.expires_at_ms.is_none_or(|e| e > now_ms)
    }
}

const COLUMNS: &str =
    "id, user_name, name, prefix, created_at, expires_at, revoked_at, rpm, tpm, budget_usd, models";

fn key_from_row(r: &AnyRow) -> Result<KeyInfo, StoreError> {
    let expires: Option<i64> = r.try_get("expires_at")?;
    let revoked: Option<i64> = r.try_get("revoked_at")?;
    let models: String = r.try_get("models")?;
    Ok(KeyInfo {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        user: r.try_get("user_name")?,
        created_at: rfc3339(r.try_get("created_at")?),
        expires_at: expires.map(rfc3339),
        revoked: revoked.is_some(),
        rpm: r
            .try_get::<Option<i64>, _>("rpm")?
            .and_then(|v| u32::try_from(v).ok()),
        tpm: r
            .try_get::<Option<i64>, _>("tpm")?
            .and_then(|v| u64::try_from(v).ok()),
        budget_usd: r.try_get("budget_usd")?,
        models: models
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        prefix: r.try_get("prefix")?,
        expires_at_ms: expires,
    })
}

impl Store {
    /// Creates a key for an existing user; returns it with its secret (shown once).
    pub async fn create_key(&self, new: &NewKey) -> Result<(KeyInfo, String), StoreError> {
        if !self.user_exists(&new.user).await? {
            return Err(StoreError::NotFound(format!("user `{}`", new.user)));
        }
        let secret = generate_key()?;
        let id = random_id()?;
        let now = now_ms();
        let prefix: String = secret.chars().take(KEY_PREFIX.len() + 6).collect();
        sqlx::query(
            "INSERT INTO api_keys (id, user_name, name, hash, prefix, created_at, updated_at, expires_at, revoked_at, rpm, tpm, budget_usd, models)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&new.user)
        .bind(new.name.as_deref())
        .bind(hash_key(&secret))
        .bind(&prefix)
        .bind(now)
        .bind(now)
        .bind(new.expires_at)
        .bind(new.rpm.map(i64::from))
        .bind(new.tpm.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
        .bind(new.budget_usd)
        .bind(new.models.join(","))
        .execute(self.pool())
        .await?;
        let info = KeyInfo {
            id,
            name: new.name.clone(),
            user: new.user.clone(),
            created_at: rfc3339(now),
            expires_at: new.expires_at.map(rfc3339),
            revoked: false,
            rpm: new.rpm,
            tpm: new.tpm,
            budget_usd: new.budget_usd,
            models: new.models.clone(),
            prefix,
            expires_at_ms: new.expires_at,
        };
        Ok((info, secret))
    }

    pub async fn list_keys(&self, user: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        let rows =
            match user {
                Some(u) => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_keys WHERE user_name = $1 ORDER BY created_at, id"
                ))
                .bind(u)
                .fetch_all(self.pool())
                .await?,
                None => {
                    sqlx::query(&format!(
                        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
                    ))
                    .fetch_all(self.pool())
                    .await?
                }
            };
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes a key; `false` when there is no such key.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1), updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The key whose secret is `secret`, revoked or expired ones included
    /// (the caller decides), or `None`.
    pub async fn find_key(&self, secret: &str) -> Result<Option<AuthedKey>, StoreError> {
        let hash = hash_key(secret);
        let row = sqlx::query(&format!(
            "SELECT {}, k.hash AS hash, u.role AS role FROM api_keys k JOIN users u ON u.name = k.user_name WHERE k.hash = $1",
            COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(&hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        // The lookup was by hash; compare again in constant time.
        let stored: String = row.try_get("hash")?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            stored.as_bytes(),
            hash.as_bytes(),
        )) {
            return Ok(None);
        }
        Ok(Some(AuthedKey {
            key: key_from_row(&row)?,
            role: row.try_get::<String, _>("role")?.parse()?,
        }))
    }
}
