//! The one registry of configuration keys. Parsing, validation, `config show`,
//! the `init` templates, the shipped `config/` files and the reference section
//! of `docs/configuration.md` are all driven by the tables in this file.

/// How a key's value is parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// An environment name (a directory name: letters, digits, `-`, `_`).
    EnvName,
    /// `true` / `false` (also yes/no, on/off, 1/0).
    Bool,
    /// A byte size with an optional unit (`512MiB`, `10MB`).
    Size,
    /// A byte size, or `unlimited`.
    OptSize,
    /// A duration (`250ms`, `30s`, `5m`).
    Duration,
    /// A whole number within bounds.
    Int { min: u64, max: u64 },
    /// A whole number within bounds, or `unlimited` / empty for none.
    OptInt { min: u64, max: u64 },
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// A comma-separated list.
    List,
    /// A socket address `HOST:PORT` (IPv6 in brackets).
    Addr,
    /// A file-system path; empty for none.
    Path,
    /// A URL; empty for none. Passwords in it are masked on output.
    Url,
    /// A log filter: a level, or `target=level` directives separated by commas.
    LogFilter,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// Full dotted name, e.g. `server.listen`. For per-provider keys, the field
    /// name only (`base_url`); see [`PROVIDER_KEYS`].
    pub name: &'static str,
    /// The default as written in a config file; empty means "not set".
    pub default: &'static str,
    /// When the default is computed at run time, how to describe it.
    pub computed_default: Option<&'static str>,
    /// One-line help shown in templates, docs and `config show`.
    pub doc: &'static str,
    /// How the value is parsed.
    pub kind: Kind,
}

const fn key(name: &'static str, default: &'static str, kind: Kind, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        default,
        computed_default: None,
        doc,
        kind,
    }
}

const fn computed(
    name: &'static str,
    described: &'static str,
    kind: Kind,
    doc: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        default: "",
        computed_default: Some(described),
        doc,
        kind,
    }
}

/// Levels accepted by `log.level`.
pub const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Every fixed key, in the order templates and `config show` list them.
pub static KEYS: &[KeyDef] = &[
    key(
        "environment",
        "dev",
        Kind::EnvName,
        "Which overlay to load: <config_dir>/<environment>/gateway.ini (shipped: dev, test, live). --env and TOKGATEWAY_ENV take precedence.",
    ),
    key(
        "server.listen",
        "127.0.0.1:8081",
        Kind::Addr,
        "Address and port gatewayd listens on.",
    ),
    key(
        "server.tls_cert",
        "",
        Kind::Path,
        "PEM certificate chain; with server.tls_key, gatewayd serves HTTPS.",
    ),
    key(
        "server.tls_key",
        "",
        Kind::Path,
        "PEM private key for server.tls_cert.",
    ),
    key(
        "server.max_body_bytes",
        "10MiB",
        Kind::Size,
        "Largest request body accepted; larger ones get 413.",
    ),
    key(
        "server.request_timeout",
        "600s",
        Kind::Duration,
        "Longest a request may take end to end; then 504.",
    ),
    key(
        "server.shutdown_timeout",
        "30s",
        Kind::Duration,
        "On SIGINT/SIGTERM, how long in-flight requests may finish.",
    ),
    key(
        "server.console",
        "true",
        Kind::Bool,
        "Serve the browser console under /console/.",
    ),
    key(
        "server.console_dir",
        "",
        Kind::Path,
        "Serve the console from this directory instead of the bundle built into gatewayd.",
    ),
    key(
        "server.cors_origins",
        "",
        Kind::List,
        "Browser origins allowed to call the API (comma list; * for any).",
    ),
    computed(
        "auth.enabled",
        "false when the environment is dev, true otherwise",
        Kind::Bool,
        "Require an API key on the proxy endpoints.",
    ),
    key(
        "auth.allow_open",
        "false",
        Kind::Bool,
        "Allow listening on a non-loopback address with auth disabled.",
    ),
    computed(
        "store.url",
        "sqlite://<data_dir>/gateway.db",
        Kind::Url,
        "Where users, keys and the ledger live: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (an in-memory SQLite URL is refused: the ledger would not outlive the process).",
    ),
    key(
        "ledger.enabled",
        "true",
        Kind::Bool,
        "false: write no usage rows (a pure proxy: metrics, request logs and rate limits stay; key budgets are not enforced).",
    ),
    key(
        "ledger.flush_interval",
        "100ms",
        Kind::Duration,
        "Longest a usage row waits before its batch is written.",
    ),
    key(
        "ledger.batch_size",
        "512",
        Kind::Int {
            min: 1,
            max: 100_000,
        },
        "Rows written per batch at most.",
    ),
    key(
        "responses.ttl",
        "30d",
        Kind::Duration,
        "How long /v1/responses keeps a stored response (store: true) for previous_response_id and GET /v1/responses/{id}.",
    ),
    key(
        "ledger.durability",
        "async",
        Kind::Enum(&["async", "sync"]),
        "async: rows are written in the background; sync: a response completes only after its row is committed (commits are grouped).",
    ),
    computed(
        "limits.max_memory",
        "the container's memory limit if any, else unlimited",
        Kind::OptSize,
        "Memory ceiling for gatewayd (e.g. 512MiB, or unlimited).",
    ),
    key(
        "limits.memory_shed_percent",
        "90",
        Kind::Int { min: 1, max: 100 },
        "At this percentage of limits.max_memory, new requests get 503 until memory falls.",
    ),
    key(
        "limits.max_open_files",
        "",
        Kind::OptInt {
            min: 64,
            max: 1 << 24,
        },
        "Open-file limit to apply; empty raises the soft limit to the hard limit.",
    ),
    key(
        "limits.max_concurrent_requests",
        "unlimited",
        Kind::OptInt {
            min: 1,
            max: 1 << 24,
        },
        "Requests served at once; more get 503.",
    ),
    computed(
        "limits.worker_threads",
        "the container's CPU quota if any, else all cores",
        Kind::OptInt { min: 1, max: 1024 },
        "Worker threads of the async runtime.",
    ),
    key(
        "ratelimit.redis_url",
        "",
        Kind::Url,
        "Redis holding rate-limit counters shared by several instances; empty keeps them in process.",
    ),
    key(
        "ratelimit.default_rpm",
        "",
        Kind::OptInt {
            min: 1,
            max: u32::MAX as u64,
        },
        "Requests per minute for keys without their own limit; empty for none.",
    ),
    key(
        "ratelimit.default_tpm",
        "",
        Kind::OptInt {
            min: 1,
            max: u64::MAX,
        },
        "Tokens per minute for keys without their own limit; empty for none.",
    ),
    key(
        "log.level",
        "info",
        Kind::LogFilter,
        "trace, debug, info, warn or error (or target=level directives).",
    ),
    key(
        "log.format",
        "pretty",
        Kind::Enum(&["pretty", "json"]),
        "Log line format.",
    ),
    key(
        "log.file",
        "-",
        Kind::Text,
        "Log file path, or - for stderr.",
    ),
    key(
        "log.rotation",
        "daily",
        Kind::Enum(&["daily", "hourly", "never"]),
        "How often log.file is rotated.",
    ),
    key(
        "routing.work_mode",
        "auto",
        Kind::Enum(&["auto", "passthrough", "translation"]),
        "auto translates between OpenAI and Anthropic when needed; passthrough rejects requests that need translation; translation rejects requests that do not.",
    ),
];

/// The provider types gatewayd knows.
pub const PROVIDER_TYPES: &[&str] = &["openai", "anthropic", "gemini", "loopback"];

/// Fields of a `[provider.NAME]` section.
pub static PROVIDER_KEYS: &[KeyDef] = &[
    computed(
        "type",
        "the section name when it is openai, anthropic, gemini or loopback",
        Kind::Enum(PROVIDER_TYPES),
        "openai (any OpenAI-compatible server), anthropic, gemini (Google Gemini API) or loopback.",
    ),
    computed(
        "base_url",
        "https://api.openai.com/v1 for openai, https://api.anthropic.com for anthropic, https://generativelanguage.googleapis.com for gemini",
        Kind::Url,
        "Base URL as the official SDKs take it.",
    ),
    computed(
        "api_key",
        "OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY from the environment",
        Kind::Text,
        "The provider's API key (never printed).",
    ),
    key(
        "timeout",
        "600s",
        Kind::Duration,
        "Longest wait for the upstream's response.",
    ),
    key(
        "models",
        "",
        Kind::List,
        "Models this provider serves (comma list), listed by /v1/models and routed here when no [routes] glob matches.",
    ),
    key(
        "max_retries",
        "1",
        Kind::Int { min: 0, max: 10 },
        "Retries on connect errors, 429 and 5xx before the next provider is tried.",
    ),
    key(
        "responses",
        "false",
        Kind::Bool,
        "openai providers only: the upstream serves /responses itself, so /v1/responses is passed through instead of translated to chat completions.",
    ),
    key(
        "chunk_delay",
        "0ms",
        Kind::Duration,
        "loopback providers only: pause between streamed chunks (slow-stream demos and benchmarks).",
    ),
];

/// Sections whose keys are chosen by the user (model names and globs).
pub static MAP_SECTIONS: &[(&str, &str)] = &[
    (
        "routes",
        "model glob = comma list of provider names, tried in order (fallback on connect errors, 429 and 5xx before any byte was streamed). First matching glob wins, in file order.",
    ),
    ("aliases", "public model name = upstream model name."),
    (
        "prices",
        "model glob = IN_PER_MTOK,OUT_PER_MTOK in USD per million tokens, used for the cost of each request.",
    ),
];

/// The built-in provider that is always present.
pub const LOOPBACK_PROVIDER: &str = "loopback";

/// Looks up a fixed key.
pub fn find(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// Looks up a provider field.
pub fn find_provider_field(field: &str) -> Option<&'static KeyDef> {
    PROVIDER_KEYS.iter().find(|k| k.name == field)
}

/// What a dotted key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// A fixed key from [`KEYS`].
    Fixed(&'static KeyDef),
    /// `provider.NAME.FIELD`.
    Provider {
        name: &'a str,
        field: &'static KeyDef,
    },
    /// `routes.GLOB`, `aliases.NAME` or `prices.GLOB`.
    Map {
        section: &'static str,
        entry: &'a str,
    },
}

impl PartialEq for KeyDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KeyDef {}

/// Classifies a dotted key, or `None` when it is not a known key.
pub fn classify(key: &str) -> Option<KeyRef<'_>> {
    if let Some(def) = find(key) {
        return Some(KeyRef::Fixed(def));
    }
    if let Some(rest) = key.strip_prefix("provider.") {
        let (name, field) = rest.rsplit_once('.')?;
        if !valid_provider_name(name) {
            return None;
        }
        return find_provider_field(field).map(|field| KeyRef::Provider { name, field });
    }
    let (section, entry) = key.split_once('.')?;
    if entry.is_empty() {
        return None;
    }
    MAP_SECTIONS
        .iter()
        .find(|(s, _)| *s == section)
        .map(|(s, _)| KeyRef::Map { section: s, entry })
}

/// Provider names are used in env variable names and URLs: keep them simple.
pub fn valid_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The known key closest to `unknown`, if any is close enough to be a likely typo.
pub fn suggest(unknown: &str) -> Option<String> {
    let mut candidates: Vec<String> = KEYS.iter().map(|k| k.name.to_owned()).collect();
    if let Some(rest) = unknown.strip_prefix("provider.") {
        let name = rest.rsplit_once('.').map_or(rest, |(n, _)| n);
        candidates.extend(
            PROVIDER_KEYS
                .iter()
                .map(|f| format!("provider.{name}.{}", f.name)),
        );
    }
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(unknown, &c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_keys() {
        assert!(
            matches!(classify("server.listen"), Some(KeyRef::Fixed(k)) if k.name == "server.listen")
        );
        assert!(matches!(
            classify("provider.my-vllm.base_url"),
            Some(KeyRef::Provider { name: "my-vllm", field }) if field.name == "base_url"
        ));
        assert!(matches!(
            classify("routes.gpt-4.1*"),
            Some(KeyRef::Map {
                section: "routes",
                entry: "gpt-4.1*"
            })
        ));
        assert_eq!(classify("server.lisen"), None);
        assert_eq!(classify("provider.openai.bse_url"), None);
        assert_eq!(classify("provider.Bad Name.type"), None);
        assert_eq!(classify("routes."), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("server.lisen").as_deref(), Some("server.listen"));
        assert_eq!(suggest("log.levl").as_deref(), Some("log.level"));
        assert_eq!(
            suggest("provider.openai.bse_url").as_deref(),
            Some("provider.openai.base_url")
        );
        assert_eq!(suggest("completely.different.thing"), None);
    }

    #[test]
    fn registry_is_consistent() {
        for k in KEYS {
            assert!(!k.doc.is_empty(), "{} has no doc", k.name);
            if k.computed_default.is_none() && !k.default.is_empty() {
                super::super::value::check(k.kind, k.default)
                    .unwrap_or_else(|e| panic!("default of {} does not parse: {e}", k.name));
            }
        }
    }
}
