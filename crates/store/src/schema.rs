//! The schema, versioned: each migration runs once, in order, recorded in
//! `schema_version`. Most of the SQL is accepted by both SQLite and
//! PostgreSQL; [`EACH`] holds the migrations written once per engine.

use crate::{Kind, Store, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: users, keys, ledger.
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        email TEXT,
        role TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        name TEXT,
        hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT,
        rpm BIGINT,
        tpm BIGINT,
        budget_usd DOUBLE PRECISION,
        models TEXT NOT NULL
    );
    CREATE INDEX api_keys_user ON api_keys (user_name);
    CREATE TABLE usage (
        request_id TEXT PRIMARY KEY,
        time BIGINT NOT NULL,
        user_name TEXT,
        key_id TEXT,
        endpoint TEXT NOT NULL,
        requested_model TEXT NOT NULL,
        upstream_model TEXT NOT NULL,
        provider TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        latency_ms BIGINT NOT NULL,
        ttfb_ms BIGINT,
        status BIGINT NOT NULL,
        error_type TEXT,
        streamed BIGINT NOT NULL
    );
    CREATE INDEX usage_time ON usage (time);
    CREATE INDEX usage_key ON usage (key_id);",
    // 2: stored Responses API responses (previous_response_id).
    "CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_id TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        model TEXT NOT NULL,
        messages TEXT NOT NULL,
        response TEXT NOT NULL
    );
    CREATE INDEX responses_expires ON responses (expires_at);",
    // 3: ledger rows keyed by their own id, not by the request id: a client
    // may send the same x-request-id twice, and both requests must be counted.
    "CREATE TABLE usage_v3 (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        time BIGINT NOT NULL,
        user_name TEXT,
        key_id TEXT,
        endpoint TEXT NOT NULL,
        requested_model TEXT NOT NULL,
        upstream_model TEXT NOT NULL,
        provider TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        latency_ms BIGINT NOT NULL,
        ttfb_ms BIGINT,
        status BIGINT NOT NULL,
        error_type TEXT,
        streamed BIGINT NOT NULL
    );
    INSERT INTO usage_v3 SELECT request_id, request_id, time, user_name, key_id, endpoint, requested_model,
        upstream_model, provider, prompt_tokens, completion_tokens, cost_usd, latency_ms, ttfb_ms, status,
        error_type, streamed FROM usage;
    DROP TABLE usage;
    ALTER TABLE usage_v3 RENAME TO usage;
    CREATE INDEX usage_time ON usage (time);
    CREATE INDEX usage_key ON usage (key_id);
    CREATE INDEX usage_request ON usage (request_id);",
    // 4: no index on request_id. Nothing the gateway serves looks rows up by
    // it, and every row paid for it on insert (about a fifth of the ledger's
    // CPU per row on SQLite). Lookups by request id scan, or narrow by time.
    "DROP INDEX usage_request",
];

/// Migrations after [`MIGRATIONS`], as (SQLite, PostgreSQL).
const EACH: &[(&str, &str)] = &[
    // 5: every row's id begins with its time (`id_prefix`), so the primary
    // key serves time ranges and the `time` index goes; rows written before
    // (ids that were request ids) get the prefix. On SQLite the key index
    // leaves out keyless rows (auth off), which no key lookup asks for: a
    // keyless row is now written to one b-tree besides the id's, not three.
    (
        "UPDATE usage SET id = printf('%012x', min(max(time, 0), 281474976710655)) || id
            WHERE substr(id, 1, 12) <> printf('%012x', min(max(time, 0), 281474976710655));
        DROP INDEX usage_time;
        DROP INDEX usage_key;
        CREATE INDEX usage_key ON usage (key_id) WHERE key_id IS NOT NULL",
        "UPDATE usage SET id = lpad(to_hex(LEAST(GREATEST(time, 0), 281474976710655)), 12, '0') || id
            WHERE left(id, 12) <> lpad(to_hex(LEAST(GREATEST(time, 0), 281474976710655)), 12, '0')",
    ),
    // 6: each key's spend in a table of its own, added to in the
    // transaction that writes the key's rows, so a budget check reads one
    // row rather than summing the key's rows, and a row is written to no
    // index but its id's. The key index served only that sum.
    (KEY_SPEND, KEY_SPEND),
];

/// Migration 6, the same on both engines.
const KEY_SPEND: &str = "CREATE TABLE key_spend (
        key_id TEXT PRIMARY KEY,
        cost_usd DOUBLE PRECISION NOT NULL
    );
    INSERT INTO key_spend (key_id, cost_usd)
        SELECT key_id, SUM(cost_usd) FROM usage WHERE key_id IS NOT NULL GROUP BY key_id;
    DROP INDEX usage_key";

/// Any value, the same in every instance: the PostgreSQL advisory lock
/// migrations take turns on.
const MIGRATION_LOCK: i64 = 0x0074_6777_5f6d_6967; // "tgw_mig" in ASCII

/// The number of migrations a `MAX(version)` says are done.
fn version(max: Option<i64>) -> usize {
    usize::try_from(max.unwrap_or(0)).unwrap_or(0)
}

/// Brings the schema up to date, one migration per transaction. Instances
/// (or processes) starting at once take turns — on PostgreSQL an advisory
/// lock held by each migration's transaction, on SQLite the write lock taken
/// as it begins — and read the version again under it, so each migration
/// runs once and every one starts.
pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    let pool = store.pool();
    let each = EACH.iter().map(|&(sqlite, postgres)| match store.kind() {
        Kind::Sqlite => sqlite,
        Kind::Postgres => postgres,
    });
    // Versions only grow, so the steps below one read now are done: an
    // up-to-date store (the usual start) opens no transaction and takes no
    // lock. A store without the table yet reads as version 0.
    let known: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
        .fetch_one(pool)
        .await
        .unwrap_or(None);
    for (i, sql) in MIGRATIONS
        .iter()
        .copied()
        .chain(each)
        .enumerate()
        .skip(version(known))
    {
        let mut tx = match store.kind() {
            // The write lock at once (waiting out the busy timeout for it),
            // not on the first write after reading the version: two
            // processes each holding a read lock would not both get it.
            Kind::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Kind::Postgres => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
            .fetch_one(&mut *tx)
            .await?;
        if version(current) > i {
            // Another instance ran it while this one waited for the lock.
            tx.rollback().await?;
            continue;
        }
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(stmt).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(i64::try_from(i + 1).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
