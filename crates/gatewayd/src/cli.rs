//! `gatewayd` arguments (types only).

use clap::{Parser, Subcommand};
use tokgateway_core::cli::ConfigArgs;

/// tokgateway's daemon: an OpenAI- and Anthropic-compatible LLM API gateway.
#[derive(Debug, Parser)]
#[command(name = "gatewayd", version, about, disable_help_subcommand = true)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and exit (0 valid, 2 invalid).
    Check,
}
