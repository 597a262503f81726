//! Foundations shared by `gateway` and `gatewayd`: layered configuration,
//! platform directories, secret masking, system and resource probes, and the
//! platform adapter that applies resource limits.

pub mod cli;
pub mod config;
pub mod dirs;
pub mod env;
pub mod gpu;
pub mod platform;
pub mod secret;
pub mod system;

/// The version both binaries print.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
