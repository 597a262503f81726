//! `gateway`, tokgateway's command-line tool. `main.rs` only calls [`main`];
//! everything here is callable in-process.

pub mod cli;
pub mod commands;
pub mod output;

use std::process::ExitCode;

use clap::Parser;

/// A failure with its exit code (SPEC §4: 1 runtime failure, 2 usage or
/// config error).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// A runtime failure (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<tokgateway_core::config::ConfigError> for Failure {
    fn from(e: tokgateway_core::config::ConfigError) -> Self {
        Self::usage(e.to_string())
    }
}

/// Runs `gateway` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match commands::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            output::error(&f.message);
            ExitCode::from(f.code)
        }
    }
}
