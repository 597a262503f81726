//! One module per command.

mod config;
mod doctor;
mod init;
mod remote;
mod store;

use crate::Failure;
use crate::cli::{Cli, Command};

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Init(args) => init::run(cli, args),
        Command::Config { command } => config::run(cli, command),
        Command::Doctor => doctor::run(cli),
        Command::Users { command } => store::users(cli, command),
        Command::Keys { command } => store::keys(cli, command),
        Command::Usage { by, since } => store::usage(cli, *by, since.as_deref()),
        Command::Status { url } => remote::status(cli, url.as_deref()),
        Command::Chat {
            url,
            model,
            key,
            prompt,
        } => remote::chat(
            cli,
            url.as_deref(),
            model,
            key.as_deref(),
            &prompt.join(" "),
        ),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "gateway", &mut buf);
            crate::output::data(&String::from_utf8_lossy(&buf));
            Ok(())
        }
    }
}

/// Loads the configuration, printing its warnings.
pub(crate) fn load(cli: &Cli) -> Result<tokgateway_core::config::Loaded, Failure> {
    let loaded = cli.config.load()?;
    for w in &loaded.warnings {
        crate::output::warn(cli.quiet, w);
    }
    Ok(loaded)
}
