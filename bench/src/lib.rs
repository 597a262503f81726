//! Shared bits of the benchmark helpers.

use std::net::SocketAddr;

/// Reads `--listen ADDR` (default `127.0.0.1:0`) and `--upstream URL` style
/// flags: returns the value after `name`, if present.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The listen address from `--listen`.
pub fn listen_addr() -> SocketAddr {
    flag("--listen")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// A runtime with the worker count from `--threads` (default 1: the load
/// generator and gatewayd need the other cores).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let threads = flag("--threads").and_then(|s| s.parse().ok()).unwrap_or(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
}
