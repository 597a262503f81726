//! Responses kept for the OpenAI Responses API (`store: true`): the response
//! object `GET /v1/responses/{id}` returns, and the conversation so far (as
//! Chat Completions messages) that a request naming it in
//! `previous_response_id` continues. Each belongs to the key that made it and
//! expires after `responses.ttl`.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub id: String,
    /// The key that created it (`None` with auth disabled).
    pub key_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub model: String,
    /// JSON array: the conversation up to and including this response.
    pub messages: String,
    /// JSON: the response object.
    pub response: String,
}

impl Store {
    /// Stores (or replaces) a response.
    pub async fn put_response(&self, r: &StoredResponse) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO responses (id, key_id, created_at, expires_at, model, messages, response) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, model = excluded.model, messages = excluded.messages, \
             response = excluded.response",
        )
        .bind(&r.id)
        .bind(r.key_id.as_deref())
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(&r.model)
        .bind(&r.messages)
        .bind(&r.response)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A response that has not expired, whoever owns it (callers check).
    pub async fn get_response(&self, id: &str) -> Result<Option<StoredResponse>, StoreError> {
        let row = sqlx::query(
            "SELECT id, key_id, created_at, expires_at, model, messages, response FROM responses \
             WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredResponse {
            id: r.try_get("id")?,
            key_id: r.try_get("key_id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            model: r.try_get("model")?,
            messages: r.try_get("messages")?,
            response: r.try_get("response")?,
        }))
    }

    /// Deletes a response; whether it existed.
    pub async fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM responses WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Deletes every response expired at `now_ms`; how many.
    pub async fn purge_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM responses WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
