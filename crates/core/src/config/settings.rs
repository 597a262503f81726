//! Typed, validated settings built from the effective values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::layers::{Layered, Loaded, provider_type};
use super::registry::{self, Kind, LOOPBACK_PROVIDER};
use super::{ConfigError, units, value};

/// `ledger.durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Rows are written in the background.
    Async,
    /// A response completes only after its row is committed.
    Sync,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `log.rotation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// A new file every day.
    Daily,
    /// A new file every hour.
    Hourly,
    /// One file.
    Never,
}

/// `routing.work_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkMode {
    /// Translate between protocols when needed.
    Auto,
    /// Reject requests that would need translation.
    Passthrough,
    /// Reject requests that would not need translation.
    Translation,
}

/// A provider's wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI or any OpenAI-compatible server.
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`).
    Gemini,
    /// The built-in deterministic model.
    Loopback,
}

impl ProviderKind {
    /// The type's name as written in config.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Loopback => "loopback",
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub console: bool,
    pub console_dir: Option<PathBuf>,
    pub cors_origins: Vec<String>,
}

/// `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub enabled: bool,
    pub allow_open: bool,
}

/// `[ledger]`.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// `ledger.enabled`: false writes no rows.
    pub enabled: bool,
    pub flush_interval: Duration,
    pub batch_size: usize,
    pub durability: Durability,
}

/// `[limits]`.
#[derive(Debug, Clone)]
pub struct LimitsSettings {
    pub max_memory: Option<u64>,
    pub memory_shed_percent: u8,
    pub max_open_files: Option<u64>,
    pub max_concurrent_requests: Option<usize>,
    pub worker_threads: usize,
}

/// `[ratelimit]`.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub redis_url: Option<String>,
    pub default_rpm: Option<u32>,
    pub default_tpm: Option<u64>,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
    /// `None` for stderr.
    pub file: Option<PathBuf>,
    pub rotation: Rotation,
}

/// One `[provider.NAME]`.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub models: Vec<String>,
    pub max_retries: u32,
    /// Loopback only: pause between streamed chunks.
    pub chunk_delay: Duration,
    /// OpenAI only: the upstream serves `/responses` (passthrough).
    pub responses: bool,
}

/// One `[routes]` entry.
#[derive(Debug, Clone)]
pub struct Route {
    pub glob: String,
    pub providers: Vec<String>,
}

/// One `[prices]` entry, in USD per million tokens.
#[derive(Debug, Clone)]
pub struct Price {
    pub glob: String,
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// Everything gatewayd and the CLI need, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: String,
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub auth: AuthSettings,
    pub store_url: String,
    pub ledger: LedgerSettings,
    /// `responses.ttl`: how long stored Responses API responses are kept.
    pub responses_ttl: Duration,
    pub limits: LimitsSettings,
    pub ratelimit: RateLimitSettings,
    pub log: LogSettings,
    pub work_mode: WorkMode,
    pub providers: Vec<ProviderSettings>,
    pub routes: Vec<Route>,
    pub aliases: Vec<(String, String)>,
    pub prices: Vec<Price>,
}

struct Reader<'a> {
    values: &'a Layered,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> &str {
        self.values.value(key)
    }

    fn invalid(&self, key: &str, message: String) -> ConfigError {
        let origin = self
            .values
            .get(key)
            .map_or_else(|| "default".to_owned(), |e| e.origin.to_string());
        ConfigError::Invalid {
            key: key.to_owned(),
            origin,
            message,
        }
    }

    fn checked(&self, key: &str, kind: Kind) -> Result<&str, ConfigError> {
        let v = self.raw(key);
        value::check(kind, v).map_err(|m| self.invalid(key, m))?;
        Ok(v)
    }

    fn kind(key: &str) -> Kind {
        registry::find(key).map_or(Kind::Text, |k| k.kind)
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        Ok(self.checked(key, Self::kind(key))?.to_owned())
    }

    fn opt_path(&self, key: &str) -> Option<PathBuf> {
        let v = self.raw(key);
        (!v.is_empty()).then(|| PathBuf::from(v))
    }

    fn boolean(&self, key: &str) -> Result<bool, ConfigError> {
        units::parse_bool(self.raw(key)).map_err(|m| self.invalid(key, m))
    }

    fn size(&self, key: &str) -> Result<u64, ConfigError> {
        units::parse_size(self.raw(key)).map_err(|m| self.invalid(key, m))
    }

    fn opt_size(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        let v = self.raw(key);
        if units::is_unlimited(v) {
            Ok(None)
        } else {
            self.size(key).map(Some)
        }
    }

    fn duration(&self, key: &str) -> Result<Duration, ConfigError> {
        units::parse_duration(self.raw(key)).map_err(|m| self.invalid(key, m))
    }

    fn int(&self, key: &str) -> Result<u64, ConfigError> {
        match Self::kind(key) {
            Kind::Int { min, max } | Kind::OptInt { min, max } => {
                value::parse_int(self.raw(key), min, max).map_err(|m| self.invalid(key, m))
            }
            _ => value::parse_int(self.raw(key), 0, u64::MAX).map_err(|m| self.invalid(key, m)),
        }
    }

    fn opt_int(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        if units::is_unlimited(self.raw(key)) {
            Ok(None)
        } else {
            self.int(key).map(Some)
        }
    }

    fn word(&self, key: &str) -> Result<String, ConfigError> {
        Ok(self.string(key)?.to_ascii_lowercase())
    }
}

/// Narrows a number read within a key's registry bounds.
fn narrow<T: TryFrom<u64>>(n: u64) -> T {
    T::try_from(n).unwrap_or_else(|_| unreachable_bound())
}

#[cold]
fn unreachable_bound<T>() -> T {
    // The registry bounds every integer key to fit its target type.
    panic!("registry bound does not fit the settings type")
}

impl Settings {
    /// Validates the effective values into settings. The first problem found
    /// is returned, naming the key and where its value came from.
    pub fn from_loaded(loaded: &Loaded) -> Result<Self, ConfigError> {
        let r = Reader {
            values: &loaded.values,
        };
        // Check every fixed key first, so errors come in registry order.
        for k in registry::KEYS {
            r.checked(k.name, k.kind)?;
        }
        let server = ServerSettings {
            listen: value::parse_addr(r.raw("server.listen"))
                .map_err(|m| r.invalid("server.listen", m))?,
            tls_cert: r.opt_path("server.tls_cert"),
            tls_key: r.opt_path("server.tls_key"),
            max_body_bytes: r.size("server.max_body_bytes")?,
            request_timeout: r.duration("server.request_timeout")?,
            shutdown_timeout: r.duration("server.shutdown_timeout")?,
            console: r.boolean("server.console")?,
            console_dir: r.opt_path("server.console_dir"),
            cors_origins: units::parse_list(r.raw("server.cors_origins")),
        };
        if server.tls_cert.is_some() != server.tls_key.is_some() {
            let key = if server.tls_cert.is_some() {
                "server.tls_key"
            } else {
                "server.tls_cert"
            };
            return Err(r.invalid(
                key,
                "server.tls_cert and server.tls_key must be set together".to_owned(),
            ));
        }
        let log_file = r.raw("log.file");
        let settings = Self {
            environment: loaded.environment.clone(),
            data_dir: loaded.dirs.data.clone(),
            auth: AuthSettings {
                enabled: r.boolean("auth.enabled")?,
                allow_open: r.boolean("auth.allow_open")?,
            },
            store_url: r.string("store.url")?,
            responses_ttl: r.duration("responses.ttl")?,
            ledger: LedgerSettings {
                enabled: r.boolean("ledger.enabled")?,
                flush_interval: r.duration("ledger.flush_interval")?,
                batch_size: narrow(r.int("ledger.batch_size")?),
                durability: match r.word("ledger.durability")?.as_str() {
                    "sync" => Durability::Sync,
                    _ => Durability::Async,
                },
            },
            limits: LimitsSettings {
                max_memory: r.opt_size("limits.max_memory")?,
                memory_shed_percent: narrow(r.int("limits.memory_shed_percent")?),
                max_open_files: r.opt_int("limits.max_open_files")?,
                max_concurrent_requests: r.opt_int("limits.max_concurrent_requests")?.map(narrow),
                worker_threads: r
                    .opt_int("limits.worker_threads")?
                    .map_or_else(|| loaded.host.default_worker_threads(), narrow),
            },
            ratelimit: RateLimitSettings {
                redis_url: Some(r.string("ratelimit.redis_url")?).filter(|s| !s.is_empty()),
                default_rpm: r.opt_int("ratelimit.default_rpm")?.map(narrow),
                default_tpm: r.opt_int("ratelimit.default_tpm")?,
            },
            log: LogSettings {
                level: r.string("log.level")?,
                format: match r.word("log.format")?.as_str() {
                    "json" => LogFormat::Json,
                    _ => LogFormat::Pretty,
                },
                file: (!log_file.is_empty() && log_file != "-").then(|| PathBuf::from(log_file)),
                rotation: match r.word("log.rotation")?.as_str() {
                    "hourly" => Rotation::Hourly,
                    "never" => Rotation::Never,
                    _ => Rotation::Daily,
                },
            },
            work_mode: match r.word("routing.work_mode")?.as_str() {
                "passthrough" => WorkMode::Passthrough,
                "translation" => WorkMode::Translation,
                _ => WorkMode::Auto,
            },
            server,
            providers: providers(&r)?,
            routes: Vec::new(),
            aliases: loaded
                .values
                .section("aliases")
                .map(|(k, e)| (k.to_owned(), e.value.clone()))
                .collect(),
            prices: prices(&r)?,
        };
        let routes = routes(&r, &settings.providers)?;
        Ok(Self { routes, ..settings })
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.name == name)
    }
}

fn providers(r: &Reader<'_>) -> Result<Vec<ProviderSettings>, ConfigError> {
    let mut out = Vec::new();
    for name in r.values.provider_names() {
        let key = |f: &str| format!("provider.{name}.{f}");
        for f in registry::PROVIDER_KEYS {
            let k = key(f.name);
            if r.values.get(&k).is_some() {
                value::check(f.kind, r.raw(&k)).map_err(|m| r.invalid(&k, m))?;
            }
        }
        let kind = match provider_type(r.values, name).as_deref() {
            Some("openai") => ProviderKind::OpenAi,
            Some("anthropic") => ProviderKind::Anthropic,
            Some("gemini") => ProviderKind::Gemini,
            Some("loopback") => ProviderKind::Loopback,
            Some(other) => {
                return Err(r.invalid(
                    &key("type"),
                    format!(
                        "`{other}` is not one of {}",
                        registry::PROVIDER_TYPES.join(", ")
                    ),
                ));
            }
            None => {
                return Err(ConfigError::Invalid {
                    key: key("type"),
                    origin: "missing".to_owned(),
                    message: format!(
                        "provider `{name}` needs a type ({})",
                        registry::PROVIDER_TYPES.join(", ")
                    ),
                });
            }
        };
        let base_url = match r.raw(&key("base_url")) {
            "" => match kind {
                ProviderKind::OpenAi => "https://api.openai.com/v1",
                ProviderKind::Anthropic => "https://api.anthropic.com",
                ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
                ProviderKind::Loopback => "",
            },
            url => url,
        }
        .trim_end_matches('/')
        .to_owned();
        let timeout_key = key("timeout");
        let timeout = match r.raw(&timeout_key) {
            "" => Duration::from_secs(600),
            v => units::parse_duration(v).map_err(|m| r.invalid(&timeout_key, m))?,
        };
        let retries_key = key("max_retries");
        let max_retries = match r.raw(&retries_key) {
            "" => 1,
            v => value::parse_int(v, 0, 10).map_err(|m| r.invalid(&retries_key, m))?,
        };
        let delay_key = key("chunk_delay");
        let chunk_delay = match r.raw(&delay_key) {
            "" => Duration::ZERO,
            v => units::parse_duration(v).map_err(|m| r.invalid(&delay_key, m))?,
        };
        let responses_key = key("responses");
        let responses = match r.raw(&responses_key) {
            "" => false,
            v => units::parse_bool(v).map_err(|m| r.invalid(&responses_key, m))?,
        };
        out.push(ProviderSettings {
            responses,
            chunk_delay,
            name: name.to_owned(),
            kind,
            base_url,
            api_key: Some(r.raw(&key("api_key")).to_owned()).filter(|s| !s.is_empty()),
            timeout,
            models: units::parse_list(r.raw(&key("models"))),
            max_retries: narrow(max_retries),
        });
    }
    // The built-in loopback provider always exists (loading adds its defaults).
    debug_assert!(out.iter().any(|p| p.name == LOOPBACK_PROVIDER));
    Ok(out)
}

fn routes(r: &Reader<'_>, providers: &[ProviderSettings]) -> Result<Vec<Route>, ConfigError> {
    let mut out = Vec::new();
    for (glob, entry) in r.values.section("routes") {
        let names = units::parse_list(&entry.value);
        let key = format!("routes.{glob}");
        if names.is_empty() {
            return Err(r.invalid(&key, "lists no provider".to_owned()));
        }
        for n in &names {
            if !providers.iter().any(|p| &p.name == n) {
                let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
                return Err(r.invalid(
                    &key,
                    format!(
                        "names provider `{n}`, which is not configured (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        out.push(Route {
            glob: glob.to_owned(),
            providers: names,
        });
    }
    Ok(out)
}

fn prices(r: &Reader<'_>) -> Result<Vec<Price>, ConfigError> {
    let mut out = Vec::new();
    for (glob, entry) in r.values.section("prices") {
        let key = format!("prices.{glob}");
        let parts: Vec<&str> = entry.value.split(',').map(str::trim).collect();
        let parse = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        match parts.as_slice() {
            [i, o] => match (parse(i), parse(o)) {
                (Some(input_per_mtok), Some(output_per_mtok)) => {
                    out.push(Price {
                        glob: glob.to_owned(),
                        input_per_mtok,
                        output_per_mtok,
                    });
                }
                _ => {
                    return Err(r.invalid(
                        &key,
                        format!(
                            "`{}` is not IN_PER_MTOK,OUT_PER_MTOK (two non-negative numbers)",
                            entry.value
                        ),
                    ));
                }
            },
            _ => {
                return Err(r.invalid(
                    &key,
                    format!("`{}` is not IN_PER_MTOK,OUT_PER_MTOK", entry.value),
                ));
            }
        }
    }
    Ok(out)
}

/// Matches a model name against a glob with `*` (any run) and `?` (one character).
pub fn glob_match(glob: &str, name: &str) -> bool {
    let (g, n) = (glob.as_bytes(), name.as_bytes());
    let (mut gi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if gi < g.len() && (g[gi] == b'?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == b'*' {
            star = Some(gi);
            mark = ni;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("claude-*-sonnet*", "claude-3-5-sonnet-latest"));
        assert!(glob_match("gpt-4?", "gpt-4o"));
        assert!(!glob_match("gpt-4?", "gpt-4"));
        assert!(!glob_match("claude-*", "gpt-4o"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
