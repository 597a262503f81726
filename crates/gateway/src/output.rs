//! The only place that writes to stdout and stderr. Data goes to stdout,
//! messages to stderr. A closed pipe (`gateway config show | head`) is not an
//! error.

use std::io::Write;

/// Writes data to stdout.
pub fn data(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// Writes a value as pretty JSON to stdout.
pub fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => data(&s),
        Err(e) => error(&format!("cannot render JSON: {e}")),
    }
}

/// A status message on stderr (suppressed by --quiet).
pub fn info(quiet: bool, text: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// A warning on stderr (suppressed by --quiet).
pub fn warn(quiet: bool, text: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
    }
}

/// An error on stderr: one readable sentence.
pub fn error(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {text}");
}
