//! Layered configuration (SPEC §3).
//!
//! - [`registry`]: the one table of keys that drives everything else.
//! - [`layers`]: reading defaults, `setting.ini`, the environment overlay,
//!   `TOKGATEWAY_*` variables and flags into effective values with origins.
//! - [`settings`]: typed, validated settings.
//! - [`template`]: the `init` templates and the docs reference.
//! - [`edit`]: `config set`.

pub mod edit;
pub mod layers;
pub mod registry;
pub mod settings;
pub mod template;
pub mod units;
pub mod value;

use std::path::PathBuf;

pub use layers::{Entry, LoadOptions, Loaded, Origin, load};
pub use settings::Settings;

/// A configuration problem. Every variant is a usage or config error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file that is not valid ini.
    #[error("malformed config file {}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A value that does not parse or validate.
    #[error("invalid value for {key} ({origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    /// A file that exists but cannot be read or written.
    #[error("cannot access {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Bad flags or an unusable environment.
    #[error("{0}")]
    Usage(String),
}

/// Facts about the host that some defaults depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostFacts {
    /// Logical CPUs.
    pub cpus: usize,
    /// The container's memory limit, if any.
    pub cgroup_memory_bytes: Option<u64>,
    /// The container's CPU quota in CPUs, if any.
    pub cgroup_cpus: Option<f64>,
}

impl HostFacts {
    /// Reads the facts of this machine.
    pub fn current() -> Self {
        let limits = crate::system::CgroupLimits::read();
        Self {
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            cgroup_memory_bytes: limits.memory_bytes,
            cgroup_cpus: limits.cpus,
        }
    }

    /// Worker threads by default: the CPU quota rounded up, else every core.
    pub fn default_worker_threads(&self) -> usize {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        match self.cgroup_cpus {
            Some(q) if q > 0.0 => (q.ceil() as usize).clamp(1, self.cpus.max(1)),
            _ => self.cpus.max(1),
        }
    }
}

impl Loaded {
    /// Loads from this process's environment and working directory.
    pub fn from_process(opts: &LoadOptions) -> Result<Self, ConfigError> {
        let cwd = std::env::current_dir()
            .map_err(|e| ConfigError::Usage(format!("cannot read the working directory: {e}")))?;
        load(
            opts,
            &crate::env::Environment::from_process(),
            crate::dirs::Os::current(),
            &cwd,
            HostFacts::current(),
        )
    }

    /// Validated settings.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        Settings::from_loaded(self)
    }

    /// Every effective key with its value masked for display.
    pub fn masked(&self) -> Vec<(String, String, String)> {
        self.values
            .iter()
            .map(|(k, e)| {
                (
                    k.to_owned(),
                    crate::secret::mask_value(k, &e.value),
                    e.origin.to_string(),
                )
            })
            .collect()
    }

    /// The file `config set` writes to: the overlay of `env`, or the base file.
    pub fn file_for(&self, env: Option<&str>) -> PathBuf {
        match env {
            Some(e) => self.config_dir.join(e).join(layers::OVERLAY_FILE),
            None => self.base_file.clone(),
        }
    }
}
