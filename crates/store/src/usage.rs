//! The usage ledger: one row per request, and summaries of it.

use serde::Serialize;
use sqlx::Row;

use crate::{Kind, Store, StoreError};

/// One request's ledger row.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    /// Unix milliseconds.
    pub time: i64,
    pub request_id: String,
    pub user: Option<String>,
    pub key_id: Option<String>,
    pub endpoint: String,
    pub requested_model: String,
    pub upstream_model: String,
    pub provider: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub status: u16,
    pub error_type: Option<String>,
    pub streamed: bool,
}

/// How `usage` groups rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Model,
    User,
    Key,
    Day,
}

/// One group's totals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SummaryRow {
    pub group: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// `gateway usage --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
    pub total: Totals,
}

/// Totals over every row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Rows per INSERT statement (16 columns each, under SQLite's variable limit).
const CHUNK: usize = 50;

impl Store {
    /// Writes rows in one transaction; rows whose request id is already
    /// stored are skipped, so retrying a batch is safe. Returns rows written.
    pub async fn insert_usage(&self, rows: &[UsageRow]) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut written = 0;
        for chunk in rows.chunks(CHUNK) {
            let mut sql = String::from(
                "INSERT INTO usage (request_id, time, user_name, key_id, endpoint, requested_model, upstream_model, provider, \
                 prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, streamed) VALUES ",
            );
            for (n, _) in chunk.iter().enumerate() {
                if n > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..16 {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", n * 16 + c + 1));
                }
                sql.push(')');
            }
            sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(&r.request_id)
                    .bind(r.time)
                    .bind(r.user.as_deref())
                    .bind(r.key_id.as_deref())
                    .bind(&r.endpoint)
                    .bind(&r.requested_model)
                    .bind(&r.upstream_model)
                    .bind(&r.provider)
                    .bind(i(r.prompt_tokens))
                    .bind(i(r.completion_tokens))
                    .bind(r.cost_usd)
                    .bind(i(r.latency_ms))
                    .bind(r.ttfb_ms.map(i))
                    .bind(i64::from(r.status))
                    .bind(r.error_type.as_deref())
                    .bind(i64::from(r.streamed));
            }
            written += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Totals grouped by model, user, key or UTC day, for rows at or after
    /// `since_ms`, optionally of one user or key.
    pub async fn usage_summary(
        &self,
        group: Group,
        since_ms: Option<i64>,
        user: Option<&str>,
        key_id: Option<&str>,
    ) -> Result<Summary, StoreError> {
        let expr = match (group, self.kind()) {
            (Group::Model, _) => "requested_model".to_owned(),
            (Group::User, _) => "COALESCE(user_name, '-')".to_owned(),
            (Group::Key, _) => "COALESCE(key_id, '-')".to_owned(),
            (Group::Day, Kind::Sqlite) => {
                "strftime('%Y-%m-%d', time / 1000, 'unixepoch')".to_owned()
            }
            (Group::Day, Kind::Postgres) => {
                "to_char(to_timestamp(time / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')".to_owned()
            }
        };
        let sql = format!(
            "SELECT {expr} AS grp, COUNT(*) AS requests, CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS p, CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS c, \
             COALESCE(SUM(cost_usd), 0.0) AS cost FROM usage \
             WHERE time >= $1 AND ($2 = '' OR user_name = $2) AND ($3 = '' OR key_id = $3) GROUP BY grp ORDER BY grp"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms.unwrap_or(0))
            .bind(user.unwrap_or(""))
            .bind(key_id.unwrap_or(""))
            .fetch_all(self.pool())
            .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(SummaryRow {
                group: r.try_get("grp")?,
                requests: n(r.try_get("requests")?),
                prompt_tokens: n(r.try_get("p")?),
                completion_tokens: n(r.try_get("c")?),
                cost_usd: r.try_get("cost")?,
            });
        }
        let total = Totals {
            requests: out.iter().map(|r| r.requests).sum(),
            prompt_tokens: out.iter().map(|r| r.prompt_tokens).sum(),
            completion_tokens: out.iter().map(|r| r.completion_tokens).sum(),
            cost_usd: out.iter().map(|r| r.cost_usd).sum(),
        };
        Ok(Summary { rows: out, total })
    }

    /// A key's total cost in the ledger, in USD.
    pub async fn key_spend_usd(&self, key_id: &str) -> Result<f64, StoreError> {
        let v: f64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(cost_usd), 0.0) FROM usage WHERE key_id = $1")
                .bind(key_id)
                .fetch_one(self.pool())
                .await?;
        Ok(v)
    }

    /// Rows stored, for tests and diagnostics.
    pub async fn usage_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether a request's row is stored.
    pub async fn has_usage(&self, request_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage WHERE request_id = $1")
            .bind(request_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }
}
