//! The `gateway` command line: argument types only (behaviour lives in
//! `commands/`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokgateway_core::cli::ConfigArgs;

/// tokgateway's command-line tool: configuration, users, keys, usage and
/// diagnostics for a self-hosted LLM API gateway.
#[derive(Debug, Parser)]
#[command(
    name = "gateway",
    version,
    about,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Machine-readable JSON output on every read command.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors (and data asked for).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write commented configuration templates (setting.ini and dev/test/live overlays).
    Init(InitArgs),
    /// Inspect or change the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check this machine, the configuration and the providers' reachability.
    Doctor,
    /// Manage users (works on the configured store directly).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage API keys (works on the configured store directly).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Totals from the usage ledger: requests, tokens and cost.
    Usage {
        /// Group rows by model, user, key or day.
        #[arg(long, value_enum, default_value = "model")]
        by: UsageGroup,
        /// Only rows from this date (YYYY-MM-DD, UTC) or this long ago (e.g. 7d, 12h).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Health, version, uptime and resource figures of a running gatewayd.
    Status {
        /// The daemon's base URL (default: TOKGATEWAY_URL, else from server.listen).
        #[arg(long)]
        url: Option<String>,
    },
    /// Stream a chat reply through a running gatewayd.
    Chat {
        /// The daemon's base URL (default: TOKGATEWAY_URL, else from server.listen).
        #[arg(long)]
        url: Option<String>,
        /// Model to ask.
        #[arg(long, default_value = "loopback")]
        model: String,
        /// API key (default: TOKGATEWAY_API_KEY).
        #[arg(long)]
        key: Option<String>,
        /// The prompt.
        #[arg(required = true)]
        prompt: Vec<String>,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write into (default: the configuration directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every effective key and value.
    Show {
        /// Add where each value came from: flag, env:VAR, file:PATH:LINE or default.
        #[arg(long)]
        origin: bool,
    },
    /// One key's effective value.
    Get {
        /// Dotted key, e.g. server.listen.
        key: String,
    },
    /// Write a key to setting.ini (or to an environment overlay with --env).
    Set {
        /// Dotted key, e.g. server.listen.
        key: String,
        /// The new value.
        value: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Role {
    Admin,
    User,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UsageGroup {
    Model,
    User,
    Key,
    Day,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user.
    Create {
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_enum, default_value = "user")]
        role: Role,
    },
    /// List users.
    List,
    /// Delete a user and revoke their keys (their usage stays in the ledger).
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; it is printed once.
    Create {
        /// The key's owner.
        #[arg(long)]
        user: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens per minute.
        #[arg(long)]
        tpm: Option<u64>,
        /// Spending limit in USD.
        #[arg(long = "budget-usd")]
        budget_usd: Option<f64>,
        /// Model globs the key may use (comma list; default: all).
        #[arg(long)]
        models: Option<String>,
        /// Lifetime, e.g. 30d, 12h.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key.
    Revoke { id: String },
}
