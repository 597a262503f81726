//! The usage ledger: one row per request, and summaries of it.

use serde::Serialize;
use sqlx::Row;

use crate::{Kind, Store, StoreError, rfc3339_ms};

/// One request's ledger row.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    /// The row's own unique id, which makes a retried write idempotent. Empty:
    /// the request id stands in (for callers whose request ids are unique).
    pub id: String,
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

/// Rows per INSERT statement.
const CHUNK: usize = 2000;

/// A row as the JSON the insert statement unpacks.
#[derive(Serialize)]
struct JsonRow<'a> {
    id: &'a str,
    request_id: &'a str,
    time: i64,
    user: Option<&'a str>,
    key_id: Option<&'a str>,
    endpoint: &'a str,
    requested_model: &'a str,
    upstream_model: &'a str,
    provider: &'a str,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_usd: f64,
    latency_ms: i64,
    ttfb_ms: Option<i64>,
    status: i64,
    error_type: Option<&'a str>,
    streamed: i64,
}

impl<'a> From<&'a UsageRow> for JsonRow<'a> {
    fn from(r: &'a UsageRow) -> Self {
        Self {
            id: r.row_id(),
            request_id: &r.request_id,
            time: r.time,
            user: r.user.as_deref(),
            key_id: r.key_id.as_deref(),
            endpoint: &r.endpoint,
            requested_model: &r.requested_model,
            upstream_model: &r.upstream_model,
            provider: &r.provider,
            prompt_tokens: i(r.prompt_tokens),
            completion_tokens: i(r.completion_tokens),
            cost_usd: r.cost_usd,
            latency_ms: i(r.latency_ms),
            ttfb_ms: r.ttfb_ms.map(i),
            status: i64::from(r.status),
            error_type: r.error_type.as_deref(),
            streamed: i64::from(r.streamed),
        }
    }
}

impl UsageRow {
    /// The id the row is stored under.
    pub fn row_id(&self) -> &str {
        if self.id.is_empty() {
            &self.request_id
        } else {
            &self.id
        }
    }
}

/// The ledger insert on SQLite, up to the rows' parameters.
const SQLITE_INSERT_HEAD: &str = "INSERT INTO usage (id, request_id, time, user_name, key_id, endpoint, requested_model, \
     upstream_model, provider, prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, \
     streamed) VALUES ";

/// Parameters per row of [`SQLITE_INSERT_HEAD`].
const COLUMNS: usize = 17;

/// The SQLite insert of `rows` rows (`?1` … `?{17 × rows}`), rows already
/// stored skipped.
fn sqlite_insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("?{}", r * COLUMNS + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "{SQLITE_INSERT_HEAD}{} ON CONFLICT (id) DO NOTHING",
        values.join(", ")
    )
}

/// The ledger insert on PostgreSQL: the batch as one JSON parameter.
const POSTGRES_INSERT: &str = "INSERT INTO usage (id, request_id, time, user_name, key_id, endpoint, requested_model, \
     upstream_model, provider, prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, \
     streamed) SELECT id, request_id, time, \"user\", key_id, endpoint, requested_model, upstream_model, provider, \
     prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, streamed \
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, request_id text, time bigint, \"user\" text, key_id text, \
     endpoint text, requested_model text, upstream_model text, provider text, prompt_tokens bigint, \
     completion_tokens bigint, cost_usd double precision, latency_ms bigint, ttfb_ms bigint, status bigint, \
     error_type text, streamed bigint) ON CONFLICT (id) DO NOTHING";

/// Rows bound to one execution of a multi-row insert: 32, then what is left
/// in halves down to one, so a batch takes at most a handful of executions
/// however many rows it holds (each execution costs about as much as
/// binding a row; one row each was a fifth more CPU per row).
const ROWS_PER_INSERT: [usize; 6] = [32, 16, 8, 4, 2, 1];

/// The SQLite insert of each size of [`ROWS_PER_INSERT`], made once.
fn sqlite_inserts() -> &'static [String] {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        ROWS_PER_INSERT
            .iter()
            .map(|&n| sqlite_insert_sql(n))
            .collect()
    })
}

/// Binds `r` to the [`COLUMNS`] parameters from `first` on.
fn bind_row(
    stmt: &mut rusqlite::Statement<'_>,
    first: usize,
    r: &UsageRow,
) -> rusqlite::Result<()> {
    let values: [&dyn rusqlite::ToSql; COLUMNS] = [
        &r.row_id(),
        &r.request_id,
        &r.time,
        &r.user,
        &r.key_id,
        &r.endpoint,
        &r.requested_model,
        &r.upstream_model,
        &r.provider,
        &i(r.prompt_tokens),
        &i(r.completion_tokens),
        &r.cost_usd,
        &i(r.latency_ms),
        &r.ttfb_ms.map(i),
        &i64::from(r.status),
        &r.error_type,
        &i64::from(r.streamed),
    ];
    for (n, v) in values.into_iter().enumerate() {
        stmt.raw_bind_parameter(first + n, v)?;
    }
    Ok(())
}

/// Writes a batch on the ledger's own SQLite connection; returns rows written.
fn sqlite_insert(conn: &mut rusqlite::Connection, rows: &[UsageRow]) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut written = 0;
    let mut rest = rows;
    for (&size, sql) in ROWS_PER_INSERT.iter().zip(sqlite_inserts()) {
        if rest.len() < size {
            continue;
        }
        let mut insert = tx.prepare_cached(sql)?;
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            for (k, r) in chunk.iter().enumerate() {
                bind_row(&mut insert, k * COLUMNS + 1, r)?;
            }
            written += insert.raw_execute()?;
            rest = tail;
        }
    }
    tx.commit()?;
    Ok(written as u64)
}

impl Store {
    /// Writes rows in one transaction; rows whose id is already stored are
    /// skipped, so retrying a batch is safe. Returns rows written.
    ///
    /// On SQLite the batch goes through one prepared statement on a
    /// connection of the ledger's own, on a blocking thread: a few
    /// microseconds of CPU per row. On PostgreSQL it travels as one JSON
    /// parameter that the database unpacks (`jsonb_to_recordset`): one round
    /// trip per batch.
    pub async fn insert_usage(&self, rows: &[UsageRow]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        if self.ledger.is_some() {
            return self.write_usage(&mut rows.to_vec()).await;
        }
        self.insert_usage_pooled(rows).await
    }

    /// [`Store::insert_usage`] for the ledger writer: `rows` are emptied once
    /// written and kept as they are (for a retry) when the write fails; on
    /// SQLite they move to the writing thread and back instead of being copied.
    pub async fn write_usage(&self, rows: &mut Vec<UsageRow>) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let Some(writer) = &self.ledger else {
            let written = self.insert_usage_pooled(rows).await?;
            rows.clear();
            return Ok(written);
        };
        let writer = writer.clone();
        // The rows wait in a slot the writing thread borrows them from, so
        // they come back even if that thread never ran or failed midway.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(std::mem::take(rows)));
        let borrowed = slot.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let batch = borrowed
                .lock()
                .map_err(|_| StoreError::Db("the ledger batch was poisoned".into()))?;
            let mut conn = writer
                .lock()
                .map_err(|_| StoreError::Db("the ledger connection was poisoned".into()))?;
            sqlite_insert(&mut conn, &batch).map_err(|e| StoreError::Db(e.to_string()))
        })
        .await;
        let mut batch = std::mem::take(
            &mut *slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let result = joined
            .unwrap_or_else(|e| Err(StoreError::Db(format!("the ledger writer stopped: {e}"))));
        if result.is_ok() {
            // The emptied vector goes back, so its capacity serves the next batch.
            batch.clear();
        }
        *rows = batch;
        result
    }

    /// The pool's own connections: PostgreSQL, and in-memory SQLite (tests).
    async fn insert_usage_pooled(&self, rows: &[UsageRow]) -> Result<u64, StoreError> {
        let sql = match self.kind() {
            Kind::Sqlite => {
                // An in-memory store (tests): the pool's own connections.
                "INSERT INTO usage (id, request_id, time, user_name, key_id, endpoint, requested_model, upstream_model, provider, \
                 prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, streamed) \
                 SELECT json_extract(value, '$.id'), json_extract(value, '$.request_id'), json_extract(value, '$.time'), \
                 json_extract(value, '$.user'), json_extract(value, '$.key_id'), json_extract(value, '$.endpoint'), \
                 json_extract(value, '$.requested_model'), json_extract(value, '$.upstream_model'), json_extract(value, '$.provider'), \
                 json_extract(value, '$.prompt_tokens'), json_extract(value, '$.completion_tokens'), json_extract(value, '$.cost_usd'), \
                 json_extract(value, '$.latency_ms'), json_extract(value, '$.ttfb_ms'), json_extract(value, '$.status'), \
                 json_extract(value, '$.error_type'), json_extract(value, '$.streamed') FROM json_each($1) WHERE true \
                 ON CONFLICT (id) DO NOTHING"
            }
            Kind::Postgres => POSTGRES_INSERT,
        };
        let mut tx = self.pool().begin().await?;
        let mut written = 0;
        for chunk in rows.chunks(CHUNK) {
            let json = serde_json::to_string(&chunk.iter().map(JsonRow::from).collect::<Vec<_>>())
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            written += sqlx::query(sql)
                .bind(json)
                .execute(&mut *tx)
                .await?
                .rows_affected();
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

/// Which rows [`Store::usage_log`] returns.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Rows at or after this Unix-millisecond time.
    pub since_ms: Option<i64>,
    pub user: Option<String>,
    pub key_id: Option<String>,
    /// The model the client asked for.
    pub model: Option<String>,
    /// `Some(true)`: only successes (status < 400); `Some(false)`: only failures.
    pub ok: Option<bool>,
    /// Rows per page (1..=[`MAX_LOG_PAGE`]).
    pub limit: u32,
    pub offset: u64,
}

/// The most rows one [`Store::usage_log`] page holds.
pub const MAX_LOG_PAGE: u32 = 1000;

/// One ledger row as the request log shows it (`time` in RFC 3339 UTC).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    pub time: String,
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

/// A page of the request log, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct LogPage {
    pub data: Vec<LogEntry>,
    /// Whether rows older than this page match too.
    pub has_more: bool,
}

impl Store {
    /// The ledger's rows matching `q`, newest first, one page at a time.
    pub async fn usage_log(&self, q: &LogQuery) -> Result<LogPage, StoreError> {
        let limit = q.limit.clamp(1, MAX_LOG_PAGE);
        let ok = match q.ok {
            None => 0_i64,
            Some(true) => 1,
            Some(false) => 2,
        };
        let rows = sqlx::query(
            "SELECT request_id, time, user_name, key_id, endpoint, requested_model, upstream_model, provider, \
             prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, streamed \
             FROM usage WHERE time >= $1 AND ($2 = '' OR user_name = $2) AND ($3 = '' OR key_id = $3) \
             AND ($4 = '' OR requested_model = $4) AND ($5 = 0 OR ($5 = 1 AND status < 400) OR ($5 = 2 AND status >= 400)) \
             ORDER BY time DESC, request_id DESC LIMIT $6 OFFSET $7",
        )
        .bind(q.since_ms.unwrap_or(0))
        .bind(q.user.as_deref().unwrap_or(""))
        .bind(q.key_id.as_deref().unwrap_or(""))
        .bind(q.model.as_deref().unwrap_or(""))
        .bind(ok)
        .bind(i64::from(limit) + 1)
        .bind(i64::try_from(q.offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let has_more = rows.len() > limit as usize;
        let mut data = Vec::with_capacity(rows.len().min(limit as usize));
        for r in rows.iter().take(limit as usize) {
            data.push(LogEntry {
                time: rfc3339_ms(r.try_get("time")?),
                request_id: r.try_get("request_id")?,
                user: r.try_get("user_name")?,
                key_id: r.try_get("key_id")?,
                endpoint: r.try_get("endpoint")?,
                requested_model: r.try_get("requested_model")?,
                upstream_model: r.try_get("upstream_model")?,
                provider: r.try_get("provider")?,
                prompt_tokens: n(r.try_get("prompt_tokens")?),
                completion_tokens: n(r.try_get("completion_tokens")?),
                cost_usd: r.try_get("cost_usd")?,
                latency_ms: n(r.try_get("latency_ms")?),
                ttfb_ms: r.try_get::<Option<i64>, _>("ttfb_ms")?.map(n),
                status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                error_type: r.try_get("error_type")?,
                streamed: r.try_get::<i64, _>("streamed")? != 0,
            });
        }
        Ok(LogPage { data, has_more })
    }
}
