//! Command-line flags shared by both binaries (SPEC §3 "Flags").

use std::path::PathBuf;

use crate::config::{ConfigError, LoadOptions, Loaded};

/// The configuration flags `gateway` and `gatewayd` both take.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Configuration directory (holds setting.ini and <env>/gateway.ini).
    #[arg(long = "config", value_name = "DIR", global = true)]
    pub config_dir: Option<PathBuf>,
    /// Environment overlay to load (dev, test, live, …).
    #[arg(long, value_name = "ENV", global = true)]
    pub env: Option<String>,
    /// Set any configuration key, highest precedence (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,
    /// Shorthand for --set server.listen=ADDR.
    #[arg(long, value_name = "ADDR", global = true)]
    pub listen: Option<String>,
    /// Shorthand for --set log.level=LEVEL.
    #[arg(long = "log-level", value_name = "LEVEL", global = true)]
    pub log_level: Option<String>,
}

impl ConfigArgs {
    /// The load options these flags ask for. Shorthands count as `--set`
    /// given after the explicit ones.
    pub fn load_options(&self) -> Result<LoadOptions, ConfigError> {
        let mut opts = LoadOptions {
            config_dir: self.config_dir.clone(),
            env: self.env.clone(),
            sets: Vec::new(),
        };
        for s in &self.set {
            opts.push_set(s)?;
        }
        if let Some(l) = &self.listen {
            opts.sets.push(("server.listen".to_owned(), l.clone()));
        }
        if let Some(l) = &self.log_level {
            opts.sets.push(("log.level".to_owned(), l.clone()));
        }
        Ok(opts)
    }

    /// Loads the configuration of this process with these flags.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        Loaded::from_process(&self.load_options()?)
    }
}
