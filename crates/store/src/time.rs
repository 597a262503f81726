//! Unix-millisecond times and their RFC 3339 rendering.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2026-11-22T16:03:19Z` for a Unix-millisecond time.
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(ms.max(0) / 1000).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `2026-11-22T16:03:19.042Z` for a Unix-millisecond time.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}
