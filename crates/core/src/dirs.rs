//! Platform directories (SPEC §3): where config, data, logs and cache live on
//! Linux, macOS and Windows. Resolution is a pure function of the OS and an
//! [`Environment`], so every platform's rules are tested on any host.

use std::path::{Path, PathBuf};

use crate::env::Environment;

/// Application directory name.
const APP: &str = "tokgateway";

/// The operating systems whose directory conventions we follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and other Unix-likes: XDG base directories.
    Linux,
    /// macOS: `~/Library/...`.
    MacOs,
    /// Windows: `%APPDATA%` and `%LOCALAPPDATA%`.
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub const fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }
}

/// The four directories tokgateway uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dirs {
    /// Where `setting.ini` and the env overlays live when no `--config` is given.
    pub config: PathBuf,
    /// Where the SQLite store lives (`TOKGATEWAY_DATA_DIR` overrides it).
    pub data: PathBuf,
    /// Where rotated log files go.
    pub logs: PathBuf,
    /// Cache files.
    pub cache: PathBuf,
}

/// Why the directories could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("cannot find the home directory: {0} is not set")]
pub struct NoHome(&'static str);

impl Dirs {
    /// Resolves the directories for `os` from `env`.
    pub fn resolve(os: Os, env: &Environment) -> Result<Self, NoHome> {
        let abs = |name: &str| {
            env.get(name)
                .map(PathBuf::from)
                .filter(|p| is_absolute(os, p))
        };
        let mut dirs = match os {
            Os::Linux => {
                let home = env.get("HOME").map(PathBuf::from).ok_or(NoHome("HOME"))?;
                let xdg = |var: &str, fallback: &[&str]| {
                    abs(var).unwrap_or_else(|| fallback.iter().fold(home.clone(), |p, s| p.join(s)))
                };
                Self {
                    config: xdg("XDG_CONFIG_HOME", &[".config"]).join(APP),
                    data: xdg("XDG_DATA_HOME", &[".local", "share"]).join(APP),
                    logs: xdg("XDG_STATE_HOME", &[".local", "state"])
                        .join(APP)
                        .join("logs"),
                    cache: xdg("XDG_CACHE_HOME", &[".cache"]).join(APP),
                }
            }
            Os::MacOs => {
                let home = env.get("HOME").map(PathBuf::from).ok_or(NoHome("HOME"))?;
                let lib = home.join("Library");
                let support = lib.join("Application Support").join(APP);
                Self {
                    config: support.join("config"),
                    data: support,
                    logs: lib.join("Logs").join(APP),
                    cache: lib.join("Caches").join(APP),
                }
            }
            Os::Windows => {
                let profile = env.get("USERPROFILE").map(PathBuf::from);
                let roaming = abs("APPDATA")
                    .or_else(|| profile.as_ref().map(|p| p.join("AppData").join("Roaming")))
                    .ok_or(NoHome("APPDATA"))?;
                let local = abs("LOCALAPPDATA")
                    .or_else(|| profile.as_ref().map(|p| p.join("AppData").join("Local")))
                    .unwrap_or_else(|| roaming.clone());
                let app = roaming.join(APP);
                Self {
                    config: app.join("config"),
                    data: app.clone(),
                    logs: app.join("logs"),
                    cache: local.join(APP).join("cache"),
                }
            }
        };
        if let Some(data) = env.get("TOKGATEWAY_DATA_DIR") {
            dirs.data = PathBuf::from(data);
        }
        Ok(dirs)
    }

    /// The directories for this process on this OS.
    pub fn current() -> Result<Self, NoHome> {
        Self::resolve(Os::current(), &Environment::from_process())
    }
}

/// Absolute-path test by the target OS's rules (XDG says relative values are
/// to be ignored), independent of the host we run on.
fn is_absolute(os: Os, p: &Path) -> bool {
    let s = p.to_string_lossy();
    match os {
        Os::Windows => {
            let b = s.as_bytes();
            s.starts_with("\\\\")
                || (b.len() >= 3
                    && b[0].is_ascii_alphabetic()
                    && b[1] == b':'
                    && (b[2] == b'\\' || b[2] == b'/'))
        }
        _ => s.starts_with('/'),
    }
}

/// Creates a directory and its parents if missing.
pub fn ensure_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn linux_defaults() {
        let d = Dirs::resolve(Os::Linux, &env(&[("HOME", "/home/ann")])).unwrap();
        assert_eq!(d.config, Path::new("/home/ann/.config/tokgateway"));
        assert_eq!(d.data, Path::new("/home/ann/.local/share/tokgateway"));
        assert_eq!(d.logs, Path::new("/home/ann/.local/state/tokgateway/logs"));
        assert_eq!(d.cache, Path::new("/home/ann/.cache/tokgateway"));
    }

    #[test]
    fn linux_xdg_and_data_override() {
        let d = Dirs::resolve(
            Os::Linux,
            &env(&[
                ("HOME", "/home/ann"),
                ("XDG_CONFIG_HOME", "/xdg/config"),
                ("XDG_DATA_HOME", "/xdg/data"),
                ("XDG_CACHE_HOME", "relative/ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(d.config, Path::new("/xdg/config/tokgateway"));
        assert_eq!(d.data, Path::new("/xdg/data/tokgateway"));
        assert_eq!(d.cache, Path::new("/home/ann/.cache/tokgateway"));

        let d = Dirs::resolve(
            Os::Linux,
            &env(&[("HOME", "/h"), ("TOKGATEWAY_DATA_DIR", "/srv/gw")]),
        )
        .unwrap();
        assert_eq!(d.data, Path::new("/srv/gw"));
    }

    #[test]
    fn macos() {
        let d = Dirs::resolve(
            Os::MacOs,
            &env(&[("HOME", "/Users/ann"), ("XDG_CONFIG_HOME", "/x")]),
        )
        .unwrap();
        assert_eq!(
            d.config,
            Path::new("/Users/ann/Library/Application Support/tokgateway/config")
        );
        assert_eq!(
            d.data,
            Path::new("/Users/ann/Library/Application Support/tokgateway")
        );
        assert_eq!(d.logs, Path::new("/Users/ann/Library/Logs/tokgateway"));
        assert_eq!(d.cache, Path::new("/Users/ann/Library/Caches/tokgateway"));
    }

    #[test]
    fn windows() {
        let roaming = r"C:\Users\ann\AppData\Roaming";
        let local = r"C:\Users\ann\AppData\Local";
        let d = Dirs::resolve(
            Os::Windows,
            &env(&[("APPDATA", roaming), ("LOCALAPPDATA", local)]),
        )
        .unwrap();
        assert_eq!(
            d.config,
            PathBuf::from(roaming).join("tokgateway").join("config")
        );
        assert_eq!(d.data, PathBuf::from(roaming).join("tokgateway"));
        assert_eq!(
            d.logs,
            PathBuf::from(roaming).join("tokgateway").join("logs")
        );
        assert_eq!(
            d.cache,
            PathBuf::from(local).join("tokgateway").join("cache")
        );
    }

    #[test]
    fn missing_home_is_an_error() {
        let err = Dirs::resolve(Os::Linux, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("HOME"));
        assert!(Dirs::resolve(Os::Windows, &env(&[])).is_err());
    }
}
