//! The usage ledger: one row per request, and summaries of it.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::sqlite_insert::{Insert, Param};
use crate::{Kind, Store, StoreError, rfc3339_ms};

/// One request's ledger row.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    /// The row's own unique id, which makes a retried write idempotent. Empty:
    /// the request id stands in (for callers whose request ids are unique).
    /// Stored behind [`id_prefix`] of the row's time unless it begins with it.
    pub id: String,
    /// Unix milliseconds.
    pub time: i64,
    pub request_id: String,
    pub user: Option<String>,
    pub key_id: Option<String>,
    /// The route's path: most writers' are static, and are not copied.
    pub endpoint: std::borrow::Cow<'static, str>,
    pub requested_model: String,
    pub upstream_model: String,
    pub provider: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub status: u16,
    pub error_type: Option<std::borrow::Cow<'static, str>>,
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
    id: std::borrow::Cow<'a, str>,
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

/// The latest time [`id_prefix`] tells apart (year 10889).
const PREFIX_MAX_MS: i64 = (1 << 48) - 1;

/// The 12 lowercase hex digits of a Unix-millisecond time (clamped to
/// 0 ..= 2⁴⁸ − 1) that begin the id of every stored row of that time.
///
/// Fixed-width hex sorts as the number does, so a row's time is at or after
/// `since` only if its id sorts at or after `id_prefix(since)`: the ledger's
/// primary key serves time ranges and newest-first order, and the ledger needs
/// no index of its own on `time` (one b-tree less to write per row).
pub fn id_prefix(ms: i64) -> [u8; 12] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut v = ms.clamp(0, PREFIX_MAX_MS).unsigned_abs();
    let mut out = [0u8; 12];
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
    out
}

/// [`id_prefix`] as text.
fn id_prefix_str(ms: i64) -> String {
    id_prefix(ms).iter().map(|&b| char::from(b)).collect()
}

impl UsageRow {
    /// The id the row is stored under: its own (or its request id), behind
    /// [`id_prefix`] of its time unless it already begins with it.
    pub fn row_id(&self) -> std::borrow::Cow<'_, str> {
        let own = if self.id.is_empty() {
            &self.request_id
        } else {
            &self.id
        };
        let prefix = id_prefix(self.time);
        if own.as_bytes().starts_with(&prefix) {
            std::borrow::Cow::Borrowed(own)
        } else {
            std::borrow::Cow::Owned(format!("{}{own}", id_prefix_str(self.time)))
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
     error_type text, streamed bigint) ON CONFLICT (id) DO NOTHING RETURNING key_id, cost_usd";

/// Adds each member of the JSON object `$1` (a key id: USD) to the key's
/// spend (PostgreSQL).
const POSTGRES_SPEND_ADD_JSON: &str = "INSERT INTO key_spend (key_id, cost_usd) \
     SELECT key, value::double precision FROM jsonb_each_text($1::jsonb) ORDER BY key \
     ON CONFLICT (key_id) DO UPDATE SET cost_usd = key_spend.cost_usd + excluded.cost_usd";

/// Rows bound to one execution of a multi-row insert: 32, then what is left
/// in halves down to one, so a batch takes at most a handful of executions
/// however many rows it holds (each execution costs about as much as
/// binding a row; one row each was a fifth more CPU per row).
pub(crate) const ROWS_PER_INSERT: [usize; 6] = [32, 16, 8, 4, 2, 1];

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

/// Appends `r`'s [`COLUMNS`] values (`id`: its [`UsageRow::row_id`]).
fn push_row<'a>(params: &mut Vec<Param<'a>>, r: &'a UsageRow, id: &'a str) {
    params.extend([
        Param::Text(id),
        Param::Text(&r.request_id),
        Param::Int(r.time),
        r.user.as_deref().into(),
        r.key_id.as_deref().into(),
        Param::Text(&r.endpoint),
        Param::Text(&r.requested_model),
        Param::Text(&r.upstream_model),
        Param::Text(&r.provider),
        Param::Int(i(r.prompt_tokens)),
        Param::Int(i(r.completion_tokens)),
        Param::Real(r.cost_usd),
        Param::Int(i(r.latency_ms)),
        r.ttfb_ms.map(i).into(),
        Param::Int(i64::from(r.status)),
        r.error_type.as_deref().into(),
        Param::Int(i64::from(r.streamed)),
    ]);
}

/// What rows — (key, cost) each — add to each key's spend, keys in order
/// (keyless rows add to none).
fn spend_of<K: Ord>(rows: impl IntoIterator<Item = (Option<K>, f64)>) -> BTreeMap<K, f64> {
    let mut spend = BTreeMap::new();
    for (key, usd) in rows {
        if let Some(key) = key {
            *spend.entry(key).or_insert(0.0) += usd;
        }
    }
    spend
}

/// A stored row's (key, cost), for [`spend_of`].
fn key_cost(r: &UsageRow) -> (Option<&str>, f64) {
    (r.key_id.as_deref(), r.cost_usd)
}

/// Adds `$2` USD to key `$1`'s spend.
const SPEND_ADD_SQL: &str = "INSERT INTO key_spend (key_id, cost_usd) VALUES ($1, $2) \
     ON CONFLICT (key_id) DO UPDATE SET cost_usd = key_spend.cost_usd + excluded.cost_usd";

/// Writes a batch on the ledger's own SQLite connection, through its inserts
/// kept prepared, and adds the rows' cost to their keys' spend in the same
/// transaction; returns rows written.
fn sqlite_insert(ledger: &mut crate::LedgerConn, rows: &[UsageRow]) -> rusqlite::Result<u64> {
    let crate::LedgerConn { inserts, conn } = ledger;
    let ids: Vec<std::borrow::Cow<'_, str>> = rows.iter().map(UsageRow::row_id).collect();
    let mut tx = conn.transaction()?;
    let mut written = sqlite_insert_rows(&tx, inserts, rows, &ids)?;
    let spend = if written == rows.len() as u64 {
        spend_of(rows.iter().map(key_cost))
    } else {
        // Some rows were stored already: a batch retried after a commit
        // whose outcome was not known. Only the rows new now may add to
        // their keys' spend, so the batch goes again one row at a time,
        // each telling whether it was new.
        drop(tx);
        tx = conn.transaction()?;
        let mut new = Vec::with_capacity(rows.len());
        for (r, id) in rows.iter().zip(&ids) {
            if sqlite_insert_rows(
                &tx,
                inserts,
                std::slice::from_ref(r),
                std::slice::from_ref(id),
            )? == 1
            {
                new.push(r);
            }
        }
        written = new.len() as u64;
        spend_of(new.into_iter().map(key_cost))
    };
    if !spend.is_empty() {
        let mut add = tx.prepare_cached(SPEND_ADD_SQL)?;
        for (key, usd) in spend {
            add.execute(rusqlite::params![key, usd])?;
        }
    }
    tx.commit()?;
    Ok(written)
}

/// Inserts `rows` (stored under `ids`) in `tx` through the fewest
/// executions of [`ROWS_PER_INSERT`]'s sizes; returns rows written.
fn sqlite_insert_rows(
    tx: &rusqlite::Transaction<'_>,
    inserts: &mut [Option<Insert>; ROWS_PER_INSERT.len()],
    rows: &[UsageRow],
    ids: &[std::borrow::Cow<'_, str>],
) -> rusqlite::Result<u64> {
    let mut params = Vec::with_capacity(ROWS_PER_INSERT[0].min(rows.len()) * COLUMNS);
    let mut written = 0;
    let mut done = 0;
    for ((&size, sql), slot) in ROWS_PER_INSERT
        .iter()
        .zip(sqlite_inserts())
        .zip(inserts.iter_mut())
    {
        if rows.len() - done < size {
            continue;
        }
        let insert = match slot {
            Some(insert) => insert,
            None => slot.insert(Insert::prepare(tx, sql)?),
        };
        while rows.len() - done >= size {
            params.clear();
            for (r, id) in rows[done..done + size].iter().zip(&ids[done..]) {
                push_row(&mut params, r, id);
            }
            written += insert.execute(&params)?;
            done += size;
        }
    }
    Ok(written)
}

/// Totals of the rows at or after `$1` (`$4`: its [`id_prefix`], which lets
/// the primary key narrow the rows), of user `$2` and key `$3` (empty: all),
/// grouped by `expr`.
fn summary_sql(expr: &str) -> String {
    format!(
        "SELECT {expr} AS grp, COUNT(*) AS requests, CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS p, \
         CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS c, COALESCE(SUM(cost_usd), 0.0) AS cost FROM usage \
         WHERE time >= $1 AND ($2 = '' OR user_name = $2) AND ($3 = '' OR key_id = $3) AND id >= $4 \
         GROUP BY grp ORDER BY grp"
    )
}

/// A page of the request log: rows as [`summary_sql`] picks them, also of
/// model `$4` (empty: all) and outcome `$5` (0 all, 1 successes, 2 failures),
/// newest first (ids sort as their times do), `$6` rows from row `$7`.
const LOG_SQL: &str = "SELECT request_id, time, user_name, key_id, endpoint, requested_model, upstream_model, provider, \
     prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status, error_type, streamed \
     FROM usage WHERE time >= $1 AND ($2 = '' OR user_name = $2) AND ($3 = '' OR key_id = $3) \
     AND ($4 = '' OR requested_model = $4) AND ($5 = 0 OR ($5 = 1 AND status < 400) OR ($5 = 2 AND status >= 400)) \
     AND id >= $8 ORDER BY id DESC LIMIT $6 OFFSET $7";

/// A key's total cost: its row of `key_spend`, kept as its rows are written.
const KEY_SPEND_SQL: &str =
    "SELECT COALESCE((SELECT cost_usd FROM key_spend WHERE key_id = $1), 0.0)";

impl Store {
    /// Writes rows in one transaction; rows whose id is already stored are
    /// skipped, so retrying a batch is safe. Returns rows written.
    ///
    /// On SQLite the batch goes through one prepared statement on a
    /// connection of the ledger's own, on a blocking thread: a few
    /// microseconds of CPU per row. On PostgreSQL it travels as one JSON
    /// parameter that the database unpacks (`jsonb_to_recordset`): one round
    /// trip per batch, and one more for the keys' spend.
    ///
    /// The rows written add their cost to their keys' `key_spend` row in the
    /// same transaction (rows skipped as already stored add nothing), so
    /// [`Store::key_spend_usd`] always equals the sum of the key's rows.
    pub async fn insert_usage(&self, rows: &[UsageRow]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        if self.ledger.is_some() {
            return self.write_usage(&mut rows.to_vec()).await;
        }
        self.insert_usage_postgres(rows).await
    }

    /// [`Store::insert_usage`] for the ledger writer: `rows` are emptied once
    /// written and kept as they are (for a retry) when the write fails; on
    /// SQLite they move to the writing thread and back instead of being copied.
    pub async fn write_usage(&self, rows: &mut Vec<UsageRow>) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let Some(writer) = &self.ledger else {
            let written = self.insert_usage_postgres(rows).await?;
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
            let mut ledger = writer
                .lock()
                .map_err(|_| StoreError::Db("the ledger connection was poisoned".into()))?;
            sqlite_insert(&mut ledger, &batch).map_err(|e| StoreError::Db(e.to_string()))
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

    /// Through the pool's connections, on PostgreSQL: a SQLite store always
    /// has its ledger connection ([`Store::connect`] opens it, and refuses
    /// in-memory stores that could not have one).
    async fn insert_usage_postgres(&self, rows: &[UsageRow]) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        // The rows new now (the others were stored by an earlier try of
        // the batch) add to their keys' spend.
        let mut new: Vec<(Option<String>, f64)> = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let json = serde_json::to_string(&chunk.iter().map(JsonRow::from).collect::<Vec<_>>())
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            for r in sqlx::query(POSTGRES_INSERT)
                .bind(json)
                .fetch_all(&mut *tx)
                .await?
            {
                new.push((r.try_get(0)?, r.try_get(1)?));
            }
        }
        let written = new.len() as u64;
        let spend = spend_of(new);
        if !spend.is_empty() {
            // One statement, keys in order: concurrent batches on
            // PostgreSQL lock their keys' rows in the same order.
            let json =
                serde_json::to_string(&spend).map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(POSTGRES_SPEND_ADD_JSON)
                .bind(json)
                .execute(&mut *tx)
                .await?;
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
        let sql = summary_sql(&expr);
        let since = since_ms.unwrap_or(0);
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(user.unwrap_or(""))
            .bind(key_id.unwrap_or(""))
            .bind(id_prefix_str(since))
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
        let v: f64 = sqlx::query_scalar(KEY_SPEND_SQL)
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
        let since = q.since_ms.unwrap_or(0);
        let ok = match q.ok {
            None => 0_i64,
            Some(true) => 1,
            Some(false) => 2,
        };
        let rows = sqlx::query(LOG_SQL)
            .bind(since)
            .bind(q.user.as_deref().unwrap_or(""))
            .bind(q.key_id.as_deref().unwrap_or(""))
            .bind(q.model.as_deref().unwrap_or(""))
            .bind(ok)
            .bind(i64::from(limit) + 1)
            .bind(i64::try_from(q.offset).unwrap_or(i64::MAX))
            .bind(id_prefix_str(since))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prefixes_are_fixed_width_hex_in_time_order() {
        assert_eq!(&id_prefix(0), b"000000000000");
        assert_eq!(&id_prefix(1_790_000_000_000), b"01a0c4506c00");
        assert_eq!(&id_prefix(-5), b"000000000000");
        assert_eq!(&id_prefix(i64::MAX), b"ffffffffffff");
        let mut last = id_prefix(0);
        for ms in [1, 15, 16, 255, 256, 1_790_000_000_000, PREFIX_MAX_MS] {
            let p = id_prefix(ms);
            assert!(p > last, "{ms}");
            assert_eq!(p.as_slice(), format!("{ms:012x}").as_bytes());
            last = p;
        }
    }

    #[test]
    fn stored_ids_begin_with_their_time() {
        let row = |id: &str, time| UsageRow {
            id: id.into(),
            request_id: "req_1".into(),
            time,
            ..UsageRow::default()
        };
        let own = "01a0c4506c00aaaaaaaaaaaaaaaaaaaaaaaa";
        assert!(
            matches!(row(own, 1_790_000_000_000).row_id(), std::borrow::Cow::Borrowed(id) if id == own)
        );
        assert_eq!(row("", 1_790_000_000_000).row_id(), "01a0c4506c00req_1");
        // Another time's id is not taken for this one's.
        assert_eq!(
            row(own, 1_790_000_000_001).row_id(),
            format!("01a0c4506c01{own}")
        );
    }

    /// How SQLite runs a query: the `detail` column of its plan.
    async fn plan(store: &Store, sql: &str, binds: &[&str]) -> String {
        let mut conn = store.pool().acquire().await.unwrap();
        // EXPLAIN does not read the database, so it would plan with the
        // schema this connection last read (from before the migrations).
        sqlx::query("SELECT COUNT(*) FROM usage")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(&explain).persistent(false);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&mut *conn).await.unwrap();
        rows.iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[tokio::test]
    async fn ledger_queries_search_an_index_rather_than_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("g.db").display()))
            .await
            .unwrap();
        let p = ["1", "", "", "000000000000", "", "0", "10", "0"];
        let summary = plan(&store, &summary_sql("requested_model"), &p[..4]).await;
        assert!(
            summary.contains("SEARCH usage USING INDEX sqlite_autoindex_usage_1 (id>?)"),
            "{summary}"
        );
        let log = plan(&store, LOG_SQL, &p).await;
        assert!(
            log.contains("SEARCH usage USING INDEX sqlite_autoindex_usage_1 (id>?)"),
            "{log}"
        );
        assert!(
            !log.contains("TEMP B-TREE"),
            "newest first without a sort: {log}"
        );
        let spend = plan(&store, KEY_SPEND_SQL, &["k1"]).await;
        assert!(
            spend.contains("SEARCH key_spend USING INDEX sqlite_autoindex_key_spend_1 (key_id=?)"),
            "{spend}"
        );
    }
}
