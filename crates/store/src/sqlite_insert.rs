//! The ledger's multi-row insert through SQLite's C API, for the one thing
//! rusqlite does not offer: binding a row's strings in place.
//!
//! rusqlite binds every string as `SQLITE_TRANSIENT`: SQLite allocates a
//! buffer, copies the string into it, and frees it when the parameter is
//! bound again or cleared. A ledger row binds nine strings, and that was a
//! third of its insert's instructions. Here they are bound `SQLITE_STATIC`
//! (SQLite reads the caller's bytes), which is sound because
//! [`Insert::execute`] binds, steps and clears the bindings within one call
//! that borrows the values: SQLite holds no pointer to them once it returns.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::ptr::NonNull;

use rusqlite::ffi;

/// One bound value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
    Real(f64),
    Null,
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::Null, Param::Int)
    }
}

/// A prepared statement of `conn`. It must be dropped before `conn` is
/// closed (rusqlite refuses to close a connection with statements left);
/// [`crate::LedgerConn`] declares its statements before its connection so
/// they are.
pub(crate) struct Insert {
    stmt: NonNull<ffi::sqlite3_stmt>,
    params: usize,
}

// SAFETY: a statement may be used from any thread as long as one thread
// uses it at a time (SQLite's serialized and multi-thread modes); it lives
// with its connection behind the ledger's mutex.
unsafe impl Send for Insert {}

/// The connection's last error, as rusqlite reports errors.
fn error(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is an open connection; the message is a NUL-terminated
    // string SQLite owns until its next call on `db`, copied at once.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

impl Insert {
    /// Prepares `sql` (one statement) on `conn`, to be kept.
    pub(crate) fn prepare(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| {
            rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None)
        })?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `conn.handle()` is the open connection `conn` borrows; the
        // SQL is read for `len` bytes (no NUL needed); `stmt` receives the
        // statement, or null on error.
        let (db, rc) = unsafe {
            let db = conn.handle();
            let rc = ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &raw mut stmt,
                std::ptr::null_mut(),
            );
            (db, rc)
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| {
            rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_MISUSE),
                Some("empty statement".into()),
            )
        })?;
        // SAFETY: `stmt` is the statement just prepared.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) };
        Ok(Self {
            stmt,
            params: usize::try_from(params).unwrap_or(0),
        })
    }

    /// Binds `values` to the statement's parameters in order, runs it, and
    /// returns the rows it changed. The bindings are cleared before it
    /// returns, whatever happened.
    pub(crate) fn execute(&mut self, values: &[Param<'_>]) -> rusqlite::Result<u64> {
        if values.len() != self.params {
            return Err(rusqlite::Error::InvalidParameterCount(
                values.len(),
                self.params,
            ));
        }
        let result = self.bind_and_step(values);
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is a live statement of an open connection.
        // Resetting ends the run; clearing drops every pointer into `values`
        // before the borrow ends.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        result
    }

    fn bind_and_step(&mut self, values: &[Param<'_>]) -> rusqlite::Result<u64> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is a live statement of an open connection.
        let db = unsafe { ffi::sqlite3_db_handle(stmt) };
        for (i, v) in values.iter().enumerate() {
            let col = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            // SAFETY: `stmt` is live and `col` within its parameter count
            // (checked above). A text is bound SQLITE_STATIC: its bytes,
            // `len` long (no NUL needed), stay borrowed until `execute`
            // clears the bindings.
            let rc = unsafe {
                match *v {
                    Param::Text(s) => {
                        let len = c_int::try_from(s.len()).map_err(|_| {
                            rusqlite::Error::SqliteFailure(
                                ffi::Error::new(ffi::SQLITE_TOOBIG),
                                None,
                            )
                        })?;
                        ffi::sqlite3_bind_text(
                            stmt,
                            col,
                            s.as_ptr().cast(),
                            len,
                            ffi::SQLITE_STATIC(),
                        )
                    }
                    Param::Int(n) => ffi::sqlite3_bind_int64(stmt, col, n),
                    Param::Real(x) => ffi::sqlite3_bind_double(stmt, col, x),
                    // Every parameter is NULL already: a statement starts
                    // with none bound, and `execute` clears them after each run.
                    Param::Null => continue,
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
        }
        // SAFETY: `stmt` is live with every parameter bound.
        let rc = unsafe { ffi::sqlite3_step(stmt) };
        match rc {
            // SAFETY: `db` is the statement's open connection.
            ffi::SQLITE_DONE => {
                Ok(u64::try_from(unsafe { ffi::sqlite3_changes64(db) }).unwrap_or(0))
            }
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            // SAFETY: as above; the error is the one this step left.
            _ => Err(error(db, unsafe { ffi::sqlite3_extended_errcode(db) })),
        }
    }
}

impl Drop for Insert {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER, c REAL, d TEXT)")
            .unwrap();
        c
    }

    #[test]
    fn binds_each_kind_and_counts_rows() {
        let c = conn();
        let mut ins = Insert::prepare(
            &c,
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4), (?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )
        .unwrap();
        let owned = String::from("zwei ✓");
        let rows = [
            Param::Text("eins"),
            Param::Int(1),
            Param::Real(0.5),
            Param::Null,
            Param::Text(&owned),
            Param::Int(-2),
            Param::Real(1e300),
            Param::Text(""),
        ];
        assert_eq!(ins.execute(&rows).unwrap(), 2);
        // The same rows again: skipped, and the statement runs again.
        assert_eq!(ins.execute(&rows).unwrap(), 0);
        drop(owned);
        let got: Vec<(String, i64, f64, Option<String>)> = c
            .prepare("SELECT a, b, c, d FROM t ORDER BY b")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            got,
            [
                ("zwei ✓".to_owned(), -2, 1e300, Some(String::new())),
                ("eins".to_owned(), 1, 0.5, None),
            ]
        );
        drop(ins);
    }

    #[test]
    fn a_null_is_null_whatever_the_last_run_bound_there() {
        let c = conn();
        let mut ins = Insert::prepare(&c, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)").unwrap();
        let run = |ins: &mut Insert, key: &str, d: Param<'_>| {
            ins.execute(&[Param::Text(key), Param::Int(1), Param::Null, d])
                .unwrap()
        };
        assert_eq!(run(&mut ins, "a", Param::Text("set")), 1);
        assert_eq!(run(&mut ins, "b", Param::Null), 1);
        let got: Vec<(String, Option<f64>, Option<String>)> = c
            .prepare("SELECT a, c, d FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), None, Some("set".to_owned())),
                ("b".to_owned(), None, None)
            ]
        );
    }

    #[test]
    fn errors_are_sqlite_errors_and_leave_the_statement_usable() {
        let c = conn();
        assert!(Insert::prepare(&c, "INSERT INTO nowhere VALUES (?1)").is_err());
        let mut ins = Insert::prepare(&c, "INSERT INTO t (a, b) VALUES (?1, ?2)").unwrap();
        assert!(matches!(
            ins.execute(&[Param::Null]),
            Err(rusqlite::Error::InvalidParameterCount(1, 2))
        ));
        ins.execute(&[Param::Text("k"), Param::Int(1)]).unwrap();
        let dup = ins.execute(&[Param::Text("k"), Param::Int(2)]).unwrap_err();
        assert!(dup.to_string().contains("UNIQUE"), "{dup}");
        assert_eq!(ins.execute(&[Param::Text("l"), Param::Int(3)]).unwrap(), 1);
    }
}
