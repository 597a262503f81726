//! Users, API keys and the usage ledger, on SQLite (the default) or
//! PostgreSQL, behind one [`Store`]. Both go through sqlx's `Any` driver with
//! SQL both engines accept (the ledger's SQLite file insert goes through
//! SQLite's C API, see `sqlite_insert`); times are Unix milliseconds
//! (`BIGINT`).
//!
//! - API keys are `tgw_` + 32 random bytes (base64url); only their SHA-256
//!   is stored ([`hash_key`]), with a short prefix for display.
//! - Ledger rows are keyed by an id of their own that begins with their time
//!   ([`id_prefix`]) and inserted with `ON CONFLICT DO NOTHING`, so a retried
//!   batch never counts twice.
//! - SQLite runs in WAL mode with `synchronous = FULL`: a committed row
//!   survives a crash of the process or the machine.

mod keys;
mod responses;
mod schema;
mod sqlite_insert;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod usage;
mod users;

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use keys::{AuthedKey, KeyInfo, NewKey, generate_key, hash_key, key_digest};
pub use responses::StoredResponse;
pub use time::{now_ms, rfc3339, rfc3339_ms};
pub use usage::{
    Group, LogEntry, LogPage, LogQuery, MAX_LOG_PAGE, Summary, SummaryRow, UsageRow, id_prefix,
};
pub use users::{Role, User};

/// A store error. Messages never contain the URL's password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("store error: {0}")]
    Db(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e
            && d.is_unique_violation()
        {
            return Self::AlreadyExists(d.message().to_owned());
        }
        Self::Db(e.to_string())
    }
}

/// The ledger's SQLite connection, with the pool's settings (WAL is the
/// database's; `synchronous = FULL` and the busy timeout are per connection).
fn open_ledger(file: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(file)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Pages read through a memory map rather than a read call each.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456;",
    )?;
    Ok(conn)
}

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// The store: a connection pool and its engine.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    kind: Kind,
    /// SQLite files only: the ledger's own connection (see `insert_usage`).
    ledger: Option<std::sync::Arc<std::sync::Mutex<LedgerConn>>>,
}

/// The ledger's SQLite connection and the inserts it keeps prepared.
pub(crate) struct LedgerConn {
    /// Declared first so they are finalized before the connection closes.
    inserts: [Option<sqlite_insert::Insert>; usage::ROWS_PER_INSERT.len()],
    conn: rusqlite::Connection,
}

impl Store {
    /// Opens `sqlite://PATH` (created with its directories) or
    /// `postgres://…`, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let masked = tokgateway_core::secret::mask_url(url);
        let err = |message: String| StoreError::Connect {
            url: masked.clone(),
            message,
        };
        let mut ledger_file = None;
        let (kind, url) = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path == ":memory:" || path.contains("mode=memory") {
                return Err(err(
                    "an in-memory SQLite store would lose the ledger when gatewayd stops; \
                     give store.url a file (sqlite://PATH)"
                        .to_owned(),
                ));
            }
            let file = std::path::Path::new(path.split('?').next().unwrap_or(path));
            ledger_file = Some(file.to_path_buf());
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            }
            let sep = if path.contains('?') { '&' } else { '?' };
            (Kind::Sqlite, format!("sqlite://{path}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Kind::Postgres, url.to_owned())
        } else {
            return Err(err(
                "store.url must start with sqlite:// or postgres://".to_owned()
            ));
        };
        let sqlite = kind == Kind::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| err(e.to_string()))?;
        if sqlite {
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        let mut store = Self {
            pool,
            kind,
            ledger: None,
        };
        schema::migrate(&store).await?;
        if let Some(file) = ledger_file {
            let conn = tokio::task::spawn_blocking(move || open_ledger(&file))
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(format!("the ledger connection: {e}")))?;
            store.ledger = Some(std::sync::Arc::new(std::sync::Mutex::new(LedgerConn {
                inserts: Default::default(),
                conn,
            })));
        }
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A trivial query: does the store answer?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            other => Err(StoreError::Invalid(format!(
                "role `{other}` is not admin or user"
            ))),
        }
    }
}
