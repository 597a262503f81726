//! API-key authentication. Keys are looked up by hash in the store and
//! cached for at most [`CACHE_TTL`], so a revocation reaches every running
//! instance within that time while the hot path stays off the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use tokgateway_core::config::settings::glob_match;
use tokgateway_store::{AuthedKey, Role, Store, key_digest, now_ms};

/// How long a key lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// Who is calling.
#[derive(Debug)]
pub struct Identity {
    pub user: String,
    pub key_id: String,
    pub role: Role,
    /// Model globs the key may use; empty means any.
    pub models: Vec<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub budget_usd: Option<f64>,
    expires_at_ms: Option<i64>,
}

impl Identity {
    /// Whether this key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|g| glob_match(g, model))
    }
}

/// Why a request was not let in.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    Missing,
    Invalid,
    Expired,
    /// The store could not be asked.
    Unavailable,
}

impl Denied {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Missing => {
                "missing API key: send `Authorization: Bearer KEY` or `x-api-key: KEY`"
            }
            Self::Invalid => "invalid API key",
            Self::Expired => "this API key has expired",
            Self::Unavailable => "cannot check the API key right now: the store is unavailable",
        }
    }
}

/// The key a request carries: `Authorization: Bearer`, `x-api-key`,
/// `x-goog-api-key` (Gemini clients), or on Gemini routes (`/v1beta/…`) the
/// `key` query parameter those clients may send instead.
pub fn presented_key<'a>(headers: &'a HeaderMap, uri: &'a axum::http::Uri) -> Option<&'a str> {
    let found = header_key(headers);
    if found.is_some() || !uri.path().starts_with("/v1beta/") {
        return found;
    }
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("key="))
        .filter(|k| !k.is_empty())
}

fn header_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(k) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(k.trim()).filter(|k| !k.is_empty());
        }
    }
    ["x-api-key", "x-goog-api-key"]
        .into_iter()
        .find_map(|name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|k| !k.is_empty())
        })
}

type Cached = (Option<Arc<Identity>>, Instant);

/// Checks keys against the store, with a short cache.
pub struct Authenticator {
    store: Store,
    /// By the key's SHA-256: the secrets themselves are not kept.
    cache: RwLock<HashMap<[u8; 32], Cached>>,
}

impl Authenticator {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The identity behind `secret`.
    pub async fn authenticate(&self, secret: &str) -> Result<Arc<Identity>, Denied> {
        if !secret.starts_with("tgw_") || secret.len() > 256 {
            return Err(Denied::Invalid);
        }
        let hash = key_digest(secret);
        let cached = self.cache.read().ok().and_then(|c| {
            c.get(&hash)
                .filter(|(_, at)| at.elapsed() < CACHE_TTL)
                .map(|(id, _)| id.clone())
        });
        let identity = match cached {
            Some(id) => id,
            None => {
                let found = self
                    .store
                    .find_key(secret)
                    .await
                    .map_err(|_| Denied::Unavailable)?;
                let id = found
                    .filter(|k| !k.key.revoked)
                    .map(|k| Arc::new(identity(k)));
                if let Ok(mut c) = self.cache.write() {
                    if c.len() > 100_000 {
                        c.clear();
                    }
                    c.insert(hash, (id.clone(), Instant::now()));
                }
                id
            }
        };
        let id = identity.ok_or(Denied::Invalid)?;
        if id.expires_at_ms.is_some_and(|e| e <= now_ms()) {
            return Err(Denied::Expired);
        }
        Ok(id)
    }
}

fn identity(k: AuthedKey) -> Identity {
    Identity {
        user: k.key.user,
        key_id: k.key.id,
        role: k.role,
        models: k.key.models,
        rpm: k.key.rpm,
        tpm: k.key.tpm,
        budget_usd: k.key.budget_usd,
        expires_at_ms: k.key.expires_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_from_headers() {
        let uri: axum::http::Uri = "/v1/chat/completions".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h, &uri), None);
        h.insert("x-goog-api-key", "tgw_g".parse().unwrap());
        assert_eq!(presented_key(&h, &uri), Some("tgw_g"));
        h.insert("x-api-key", "tgw_a".parse().unwrap());
        assert_eq!(presented_key(&h, &uri), Some("tgw_a"));
        h.insert("authorization", "Bearer tgw_b".parse().unwrap());
        assert_eq!(presented_key(&h, &uri), Some("tgw_b"));
    }

    #[test]
    fn key_from_the_query_only_on_gemini_routes() {
        let h = HeaderMap::new();
        let gemini: axum::http::Uri = "/v1beta/models/m:generateContent?alt=sse&key=tgw_q"
            .parse()
            .unwrap();
        assert_eq!(presented_key(&h, &gemini), Some("tgw_q"));
        let openai: axum::http::Uri = "/v1/models?key=tgw_q".parse().unwrap();
        assert_eq!(presented_key(&h, &openai), None);
    }
}
