//! Reading the configuration layers and folding them into one map of
//! effective values, each with its origin.
//!
//! Precedence, highest first: flag > environment variable > environment
//! overlay ini > base ini > built-in default (SPEC §3).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::registry::{self, KeyRef, LOOPBACK_PROVIDER, PROVIDER_KEYS};
use super::{ConfigError, HostFacts};
use crate::dirs::{Dirs, Os};
use crate::env::{Environment, env_var_for_key};

/// The base file's name inside the config directory.
pub const BASE_FILE: &str = "setting.ini";
/// The overlay's name inside `<config_dir>/<env>/`.
pub const OVERLAY_FILE: &str = "gateway.ini";
/// Environment variables that steer loading rather than set a key.
const CONTROL_VARS: &[&str] = &[
    "TOKGATEWAY_ENV",
    "TOKGATEWAY_CONFIG_DIR",
    "TOKGATEWAY_DATA_DIR",
    "TOKGATEWAY_LOG",
];

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A line of an ini file.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File { path, line } => write!(f, "file:{}:{line}", path.display()),
            Self::Env(var) => write!(f, "env:{var}"),
            Self::Flag => f.write_str("flag"),
        }
    }
}

/// One effective value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value as text.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

/// Effective values in a stable order: fixed keys in registry order, then
/// user-chosen keys in the order they were first seen (file order for routes).
#[derive(Debug, Clone, Default)]
pub struct Layered {
    entries: Vec<(String, Entry)>,
    index: HashMap<String, usize>,
    /// Providers named by a `[provider.NAME]` header, even an empty one.
    declared: Vec<String>,
}

impl Layered {
    /// Sets `key`, keeping its position if it already had a value.
    pub fn set(&mut self, key: &str, value: &str, origin: Origin) {
        let entry = Entry {
            value: value.trim().to_owned(),
            origin,
        };
        match self.index.get(key) {
            Some(&i) => self.entries[i].1 = entry,
            None => {
                self.index.insert(key.to_owned(), self.entries.len());
                self.entries.push((key.to_owned(), entry));
            }
        }
    }

    /// The effective entry for `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// The effective value for `key`, empty when unset.
    pub fn value(&self, key: &str) -> &str {
        self.get(key).map_or("", |e| e.value.as_str())
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// Entries of a `[section]` whose keys the user chooses, in order, as
    /// `(entry name, Entry)`.
    pub fn section<'a>(
        &'a self,
        section: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        self.iter().filter_map(move |(k, e)| {
            k.strip_prefix(section)
                .and_then(|r| r.strip_prefix('.'))
                .map(|entry| (entry, e))
        })
    }

    /// Records a provider named by a section header.
    pub fn declare_provider(&mut self, name: &str) {
        if !self.declared.iter().any(|d| d == name) {
            self.declared.push(name.to_owned());
        }
    }

    /// Names of the providers declared or having at least one key, in order.
    pub fn provider_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.declared.iter().map(String::as_str).collect();
        for (k, _) in self.iter() {
            if let Some(KeyRef::Provider { name, .. }) = registry::classify(k)
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names
    }
}

/// What the caller (flags) asks of loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config DIR`.
    pub config_dir: Option<PathBuf>,
    /// `--env ENV`.
    pub env: Option<String>,
    /// `--set KEY=VALUE` and the shorthands (`--listen`, `--log-level`), in order.
    pub sets: Vec<(String, String)>,
}

impl LoadOptions {
    /// Parses one `--set KEY=VALUE` argument.
    pub fn push_set(&mut self, arg: &str) -> Result<(), ConfigError> {
        let (k, v) = arg
            .split_once('=')
            .ok_or_else(|| ConfigError::Usage(format!("--set expects KEY=VALUE, got `{arg}`")))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::Usage(format!(
                "--set expects KEY=VALUE, got `{arg}`"
            )));
        }
        self.sets.push((k.to_owned(), v.trim().to_owned()));
        Ok(())
    }
}

/// The result of loading: effective values with origins, plus what was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config directory used.
    pub config_dir: PathBuf,
    /// The effective environment name.
    pub environment: String,
    /// The base file path (whether or not it exists).
    pub base_file: PathBuf,
    /// The overlay file path (whether or not it exists).
    pub overlay_file: PathBuf,
    /// Files that existed and were read.
    pub files_read: Vec<PathBuf>,
    /// Effective values.
    pub values: Layered,
    /// Problems that do not stop loading (unknown keys, ignored values).
    pub warnings: Vec<String>,
    /// Platform directories.
    pub dirs: Dirs,
    /// Facts about the host used for computed defaults.
    pub host: HostFacts,
}

/// A parsed ini file: its keys and every section header it has.
#[derive(Debug, Clone, Default)]
pub(crate) struct IniFile {
    pub lines: Vec<IniLine>,
    pub sections: Vec<String>,
}

/// One `key = value` line of an ini file.
#[derive(Debug, Clone)]
pub(crate) struct IniLine {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Reads an ini file into dotted keys with line numbers. `Ok(None)` when the
/// file does not exist.
pub(crate) fn read_ini(path: &Path) -> Result<Option<IniFile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    parse_ini(path, &text).map(Some)
}

/// Parses ini text. A line scan finds each key's line (and reports malformed
/// lines precisely); `rust-ini` then supplies the values.
pub(crate) fn parse_ini(path: &Path, text: &str) -> Result<IniFile, ConfigError> {
    let malformed = |line: usize, message: String| ConfigError::Malformed {
        path: path.to_owned(),
        line,
        message,
    };
    let mut lines: HashMap<(String, String), usize> = HashMap::new();
    let mut section = String::new();
    let mut sections = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                malformed(
                    n,
                    format!("section header `{l}` is missing its closing `]`"),
                )
            })?;
            section = name.trim().to_owned();
            if section.is_empty() {
                return Err(malformed(n, "empty section name `[]`".to_owned()));
            }
            sections.push(section.clone());
            continue;
        }
        let Some(sep) = l.find(['=', ':']) else {
            return Err(malformed(
                n,
                format!("expected `key = value` or `[section]`, found `{l}`"),
            ));
        };
        let k = l[..sep].trim();
        if k.is_empty() {
            return Err(malformed(n, format!("a value without a key: `{l}`")));
        }
        lines.insert((section.clone(), k.to_owned()), n);
    }
    let opts = ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..Default::default()
    };
    let parsed = ini::Ini::load_from_str_opt(text, opts)
        .map_err(|e| malformed(e.line, e.msg.to_string()))?;
    let mut out = Vec::new();
    for (sec, props) in parsed.iter() {
        for (k, v) in props.iter() {
            let sec = sec.unwrap_or("");
            let line = lines
                .get(&(sec.to_owned(), k.to_owned()))
                .copied()
                .unwrap_or(0);
            let key = if sec.is_empty() {
                k.to_owned()
            } else {
                format!("{sec}.{k}")
            };
            out.push(IniLine {
                key,
                value: v.to_owned(),
                line,
            });
        }
    }
    out.sort_by_key(|l| l.line);
    Ok(IniFile {
        lines: out,
        sections,
    })
}

/// Loads the configuration for the given flags, environment and host.
pub fn load(
    opts: &LoadOptions,
    env: &Environment,
    os: Os,
    cwd: &Path,
    host: HostFacts,
) -> Result<Loaded, ConfigError> {
    let dirs = Dirs::resolve(os, env).map_err(|e| ConfigError::Usage(e.to_string()))?;
    let config_dir = match (&opts.config_dir, env.get("TOKGATEWAY_CONFIG_DIR")) {
        (Some(dir), _) => absolutize(cwd, dir),
        (None, Some(dir)) => absolutize(cwd, Path::new(dir)),
        (None, None) if cwd.join("config").join(BASE_FILE).is_file() => cwd.join("config"),
        (None, None) => dirs.config.clone(),
    };
    let base_file = config_dir.join(BASE_FILE);
    let base = read_ini(&base_file)?;

    // The environment decides which overlay to read, so it is resolved first.
    let flag_env = opts.env.clone().or_else(|| {
        opts.sets
            .iter()
            .rev()
            .find(|(k, _)| k == "environment")
            .map(|(_, v)| v.clone())
    });
    let file_env = base
        .as_ref()
        .and_then(|b| b.lines.iter().rev().find(|l| l.key == "environment"))
        .map(|l| {
            (
                l.value.clone(),
                Origin::File {
                    path: base_file.clone(),
                    line: l.line,
                },
            )
        });
    let (environment, env_origin) = if let Some(e) = flag_env {
        (e, Origin::Flag)
    } else if let Some(e) = env.get("TOKGATEWAY_ENV") {
        (e.to_owned(), Origin::Env("TOKGATEWAY_ENV".to_owned()))
    } else if let Some(e) = env.get("TOKGATEWAY_ENVIRONMENT") {
        (
            e.to_owned(),
            Origin::Env("TOKGATEWAY_ENVIRONMENT".to_owned()),
        )
    } else if let Some((e, origin)) = file_env {
        (e, origin)
    } else {
        ("dev".to_owned(), Origin::Default)
    };
    super::value::check(registry::Kind::EnvName, &environment).map_err(|message| {
        ConfigError::Invalid {
            key: "environment".to_owned(),
            origin: env_origin.to_string(),
            message,
        }
    })?;
    let overlay_file = config_dir.join(&environment).join(OVERLAY_FILE);
    let overlay = read_ini(&overlay_file)?;

    let mut values = Layered::default();
    let mut warnings = Vec::new();
    let mut files_read = Vec::new();

    // 1. Built-in defaults.
    for k in registry::KEYS {
        values.set(
            k.name,
            &computed_default(k.name, k.default, &environment, &dirs, &host),
            Origin::Default,
        );
    }
    values.set(
        &format!("provider.{LOOPBACK_PROVIDER}.type"),
        "loopback",
        Origin::Default,
    );
    values.set(
        &format!("provider.{LOOPBACK_PROVIDER}.models"),
        "loopback",
        Origin::Default,
    );

    // 2 and 3. The base file, then the overlay.
    for (path, lines) in [(&base_file, base), (&overlay_file, overlay)] {
        let Some(file) = lines else { continue };
        files_read.push(path.clone());
        for name in file
            .sections
            .iter()
            .filter_map(|s| s.strip_prefix("provider."))
        {
            if registry::valid_provider_name(name) {
                values.declare_provider(name);
            } else {
                warnings.push(format!(
                    "section [provider.{name}] in {} is ignored: provider names use a-z, 0-9, - and _",
                    path.display()
                ));
            }
        }
        for l in file.lines {
            let origin = Origin::File {
                path: path.clone(),
                line: l.line,
            };
            if l.key == "environment" && path == &overlay_file {
                warnings.push(format!(
                    "`environment` in {origin} is ignored: an overlay cannot choose the environment"
                ));
                continue;
            }
            accept(&mut values, &mut warnings, &l.key, &l.value, origin);
        }
    }

    // 4. Environment variables.
    let provider_names: Vec<String> = values
        .provider_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for (var, value) in env.prefixed() {
        if CONTROL_VARS.contains(&var) || var == "TOKGATEWAY_ENVIRONMENT" || value.is_empty() {
            continue;
        }
        match key_for_env_var(var, &provider_names) {
            Some(key) => values.set(&key, value, Origin::Env(var.to_owned())),
            None => warnings.push(unknown_env_warning(var, &provider_names)),
        }
    }

    // 5. Flags.
    for (k, v) in &opts.sets {
        if k == "environment" {
            continue;
        }
        accept(&mut values, &mut warnings, k, v, Origin::Flag);
    }

    // 6. Conventional provider key variables, when nothing above set a key.
    for name in values
        .provider_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<_>>()
    {
        let key = format!("provider.{name}.api_key");
        if !values.value(&key).is_empty() {
            continue;
        }
        let ty = provider_type(&values, &name);
        let var = match ty.as_deref() {
            Some("openai") => "OPENAI_API_KEY",
            Some("anthropic") => "ANTHROPIC_API_KEY",
            Some("gemini") => "GEMINI_API_KEY",
            _ => continue,
        };
        if let Some(v) = env.get(var) {
            values.set(&key, v, Origin::Env(var.to_owned()));
        }
    }

    values.set("environment", &environment, env_origin);
    Ok(Loaded {
        config_dir,
        environment,
        base_file,
        overlay_file,
        files_read,
        values,
        warnings,
        dirs,
        host,
    })
}

/// A provider's type: its `type` key, or its name when that is a type.
pub(crate) fn provider_type(values: &Layered, name: &str) -> Option<String> {
    let explicit = values.value(&format!("provider.{name}.type"));
    if !explicit.is_empty() {
        return Some(explicit.to_ascii_lowercase());
    }
    registry::PROVIDER_TYPES
        .contains(&name)
        .then(|| name.to_owned())
}

fn accept(
    values: &mut Layered,
    warnings: &mut Vec<String>,
    key: &str,
    value: &str,
    origin: Origin,
) {
    if registry::classify(key).is_some() {
        values.set(key, value, origin);
    } else {
        warnings.push(unknown_key_warning(key, &origin));
    }
}

fn unknown_key_warning(key: &str, origin: &Origin) -> String {
    let mut w = format!("unknown key `{key}` ({origin}) is ignored");
    if let Some(s) = registry::suggest(key) {
        w.push_str(&format!("; did you mean `{s}`?"));
    }
    w
}

fn unknown_env_warning(var: &str, providers: &[String]) -> String {
    let mut candidates: Vec<String> = registry::KEYS
        .iter()
        .map(|k| env_var_for_key(k.name))
        .collect();
    for p in providers {
        candidates.extend(
            PROVIDER_KEYS
                .iter()
                .map(|f| env_var_for_key(&format!("provider.{p}.{}", f.name))),
        );
    }
    candidates.extend(CONTROL_VARS.iter().map(|s| (*s).to_owned()));
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(var, &c), c))
        .filter(|(s, _)| *s >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!("unknown environment variable {var} is ignored; did you mean {c}?"),
        None => format!("unknown environment variable {var} is ignored"),
    }
}

/// Maps `TOKGATEWAY_…` back to a key: fixed keys by their env name; provider
/// keys as `TOKGATEWAY_PROVIDER_<NAME>_<FIELD>`, matching a provider already
/// named in a file when possible, else taking `<NAME>` lower-cased.
fn key_for_env_var(var: &str, providers: &[String]) -> Option<String> {
    if let Some(k) = registry::KEYS
        .iter()
        .find(|k| env_var_for_key(k.name) == var)
    {
        return Some(k.name.to_owned());
    }
    let rest = var.strip_prefix("TOKGATEWAY_PROVIDER_")?;
    for field in PROVIDER_KEYS {
        let suffix = format!("_{}", field.name.to_ascii_uppercase());
        let Some(name) = rest.strip_suffix(&suffix) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let name = providers
            .iter()
            .find(|p| env_var_for_key(p).strip_prefix(crate::env::PREFIX) == Some(name))
            .cloned()
            .unwrap_or_else(|| name.to_ascii_lowercase());
        return Some(format!("provider.{name}.{}", field.name));
    }
    None
}

fn computed_default(
    key: &str,
    fixed: &str,
    environment: &str,
    dirs: &Dirs,
    host: &HostFacts,
) -> String {
    match key {
        "auth.enabled" => (environment != "dev").to_string(),
        "store.url" => format!("sqlite://{}", dirs.data.join("gateway.db").display()),
        "limits.max_memory" => host
            .cgroup_memory_bytes
            .map_or_else(|| "unlimited".to_owned(), crate::config::units::format_size),
        "limits.worker_threads" => host.default_worker_threads().to_string(),
        _ => fixed.to_owned(),
    }
}

fn absolutize(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        cwd.join(p)
    }
}
