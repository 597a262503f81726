//! Layering, origins, validation and generated files of the configuration.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokgateway_core::config::settings::{Durability, ProviderKind, WorkMode};
use tokgateway_core::config::{
    ConfigError, HostFacts, LoadOptions, Loaded, Origin, load, template,
};
use tokgateway_core::dirs::Os;
use tokgateway_core::env::Environment;

const HOST: HostFacts = HostFacts {
    cpus: 4,
    cgroup_memory_bytes: None,
    cgroup_cpus: None,
};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn cfg(&self) -> PathBuf {
        self.dir.path().join("cfg")
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.cfg().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn env(&self, extra: &[(&str, &str)]) -> Environment {
        let home = self.dir.path().join("home").display().to_string();
        let mut pairs: Vec<(String, String)> = vec![("HOME".into(), home)];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Environment::from_pairs(pairs)
    }
    fn load(&self, opts: LoadOptions, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        let opts = LoadOptions {
            config_dir: opts.config_dir.or_else(|| Some(self.cfg())),
            ..opts
        };
        load(&opts, &self.env(env), Os::Linux, self.dir.path(), HOST)
    }
}

fn sets(pairs: &[&str]) -> LoadOptions {
    let mut o = LoadOptions::default();
    for p in pairs {
        o.push_set(p).unwrap();
    }
    o
}

fn file_origin(path: &Path, line: usize) -> Origin {
    Origin::File {
        path: path.to_owned(),
        line,
    }
}

#[test]
fn defaults_without_any_file() {
    let f = Fixture::new();
    let l = f.load(LoadOptions::default(), &[]).unwrap();
    assert_eq!(l.environment, "dev");
    assert!(l.files_read.is_empty());
    let e = l.values.get("server.listen").unwrap();
    assert_eq!(
        (e.value.as_str(), &e.origin),
        ("127.0.0.1:8081", &Origin::Default)
    );
    let s = l.settings().unwrap();
    assert!(!s.auth.enabled, "auth is off in dev by default");
    assert_eq!(s.server.max_body_bytes, 10 << 20);
    assert_eq!(s.server.request_timeout, Duration::from_secs(600));
    assert_eq!(s.ledger.durability, Durability::Async);
    assert_eq!(s.limits.worker_threads, 4);
    assert_eq!(s.limits.max_memory, None);
    assert_eq!(s.work_mode, WorkMode::Auto);
    let home = f.dir.path().join("home");
    assert_eq!(
        s.store_url,
        format!(
            "sqlite://{}",
            home.join(".local/share/tokgateway/gateway.db").display()
        )
    );
    let lb = s.provider("loopback").unwrap();
    assert_eq!(
        (lb.kind, lb.models.as_slice()),
        (ProviderKind::Loopback, ["loopback".to_owned()].as_slice())
    );
}

#[test]
fn every_precedence_step_and_origin() {
    let f = Fixture::new();
    let base = f.write(
        "setting.ini",
        "# base\n[server]\nlisten = 127.0.0.1:1001\nmax_body_bytes = 1MiB\nrequest_timeout = 10s\nshutdown_timeout = 5s\n",
    );
    let overlay = f.write(
        "dev/gateway.ini",
        "[server]\nmax_body_bytes = 2MiB\nrequest_timeout = 20s\nshutdown_timeout = 6s\n",
    );
    let opts = sets(&["server.shutdown_timeout=7s"]);
    let l = f
        .load(
            opts,
            &[
                ("TOKGATEWAY_SERVER_REQUEST_TIMEOUT", "30s"),
                ("TOKGATEWAY_SERVER_SHUTDOWN_TIMEOUT", "8s"),
            ],
        )
        .unwrap();
    let get = |k: &str| l.values.get(k).unwrap().clone();
    // base file
    assert_eq!(get("server.listen").value, "127.0.0.1:1001");
    assert_eq!(get("server.listen").origin, file_origin(&base, 3));
    // overlay beats base
    assert_eq!(get("server.max_body_bytes").value, "2MiB");
    assert_eq!(
        get("server.max_body_bytes").origin,
        file_origin(&overlay, 2)
    );
    // env beats overlay
    assert_eq!(get("server.request_timeout").value, "30s");
    assert_eq!(
        get("server.request_timeout").origin,
        Origin::Env("TOKGATEWAY_SERVER_REQUEST_TIMEOUT".into())
    );
    // flag beats env
    assert_eq!(get("server.shutdown_timeout").value, "7s");
    assert_eq!(get("server.shutdown_timeout").origin, Origin::Flag);
    // default
    assert_eq!(get("server.console").origin, Origin::Default);
    assert_eq!(l.files_read, vec![base.clone(), overlay.clone()]);
    // Origins render as SPEC says.
    assert_eq!(Origin::Flag.to_string(), "flag");
    assert_eq!(Origin::Default.to_string(), "default");
    assert_eq!(Origin::Env("X".into()).to_string(), "env:X");
    assert_eq!(
        file_origin(&base, 3).to_string(),
        format!("file:{}:3", base.display())
    );
}

#[test]
fn environment_selection() {
    let f = Fixture::new();
    let base = f.write("setting.ini", "environment = test\n");
    f.write("test/gateway.ini", "[log]\nlevel = debug\n");
    f.write("live/gateway.ini", "[log]\nlevel = warn\n");
    f.write("other/gateway.ini", "[log]\nlevel = error\n");

    let l = f.load(LoadOptions::default(), &[]).unwrap();
    assert_eq!(l.environment, "test");
    assert_eq!(
        l.values.get("environment").unwrap().origin,
        file_origin(&base, 1)
    );
    assert_eq!(l.values.value("log.level"), "debug");
    assert!(
        l.settings().unwrap().auth.enabled,
        "auth defaults on outside dev"
    );

    let l = f
        .load(LoadOptions::default(), &[("TOKGATEWAY_ENV", "live")])
        .unwrap();
    assert_eq!(
        (l.environment.as_str(), l.values.value("log.level")),
        ("live", "warn")
    );
    assert_eq!(
        l.values.get("environment").unwrap().origin,
        Origin::Env("TOKGATEWAY_ENV".into())
    );

    let opts = LoadOptions {
        env: Some("other".into()),
        ..LoadOptions::default()
    };
    let l = f.load(opts, &[("TOKGATEWAY_ENV", "live")]).unwrap();
    assert_eq!(
        (l.environment.as_str(), l.values.value("log.level")),
        ("other", "error")
    );
    assert_eq!(l.values.get("environment").unwrap().origin, Origin::Flag);

    let opts = LoadOptions {
        env: Some("../etc".into()),
        ..LoadOptions::default()
    };
    assert!(matches!(
        f.load(opts, &[]),
        Err(ConfigError::Invalid { .. })
    ));
}

#[test]
fn config_dir_resolution() {
    let f = Fixture::new();
    let env = f.env(&[]);
    // ./config when it holds a setting.ini
    let cwd = f.dir.path().join("work");
    std::fs::create_dir_all(cwd.join("config")).unwrap();
    std::fs::write(cwd.join("config/setting.ini"), "[log]\nlevel = warn\n").unwrap();
    let l = load(&LoadOptions::default(), &env, Os::Linux, &cwd, HOST).unwrap();
    assert_eq!(l.config_dir, cwd.join("config"));
    assert_eq!(l.values.value("log.level"), "warn");
    // TOKGATEWAY_CONFIG_DIR beats ./config
    let env2 = f.env(&[("TOKGATEWAY_CONFIG_DIR", "/nonexistent/tgw")]);
    let l = load(&LoadOptions::default(), &env2, Os::Linux, &cwd, HOST).unwrap();
    assert_eq!(l.config_dir, Path::new("/nonexistent/tgw"));
    // --config beats both
    let opts = LoadOptions {
        config_dir: Some("rel".into()),
        ..LoadOptions::default()
    };
    let l = load(&opts, &env2, Os::Linux, &cwd, HOST).unwrap();
    assert_eq!(l.config_dir, cwd.join("rel"));
    // else the platform dir
    let l = load(&LoadOptions::default(), &env, Os::Linux, f.dir.path(), HOST).unwrap();
    assert_eq!(l.config_dir, f.dir.path().join("home/.config/tokgateway"));
    let l = load(&LoadOptions::default(), &env, Os::MacOs, f.dir.path(), HOST).unwrap();
    assert_eq!(
        l.config_dir,
        f.dir
            .path()
            .join("home/Library/Application Support/tokgateway/config")
    );
}

#[test]
fn env_name_mapping_for_providers() {
    let f = Fixture::new();
    f.write(
        "setting.ini",
        "[provider.my-vllm]\ntype = openai\nbase_url = http://127.0.0.1:9/v1\n",
    );
    let l = f
        .load(
            LoadOptions::default(),
            &[
                ("TOKGATEWAY_PROVIDER_MY_VLLM_API_KEY", "k1"),
                ("TOKGATEWAY_PROVIDER_OPENAI_API_KEY", "k2"),
                (
                    "TOKGATEWAY_PROVIDER_ANTHROPIC_BASE_URL",
                    "http://127.0.0.1:10",
                ),
            ],
        )
        .unwrap();
    assert_eq!(l.values.value("provider.my-vllm.api_key"), "k1");
    assert_eq!(l.values.value("provider.openai.api_key"), "k2");
    let s = l.settings().unwrap();
    assert_eq!(s.provider("openai").unwrap().kind, ProviderKind::OpenAi);
    assert_eq!(
        s.provider("openai").unwrap().base_url,
        "https://api.openai.com/v1"
    );
    assert_eq!(
        s.provider("anthropic").unwrap().base_url,
        "http://127.0.0.1:10"
    );
}

#[test]
fn conventional_api_key_fallback() {
    let f = Fixture::new();
    f.write("setting.ini", "[provider.openai]\nmodels = gpt-4o\n[provider.claude]\ntype = anthropic\n[provider.both]\ntype = openai\napi_key = own\n");
    let l = f
        .load(
            LoadOptions::default(),
            &[("OPENAI_API_KEY", "sk-o"), ("ANTHROPIC_API_KEY", "sk-a")],
        )
        .unwrap();
    let e = l.values.get("provider.openai.api_key").unwrap();
    assert_eq!(
        (e.value.as_str(), &e.origin),
        ("sk-o", &Origin::Env("OPENAI_API_KEY".into()))
    );
    assert_eq!(l.values.value("provider.claude.api_key"), "sk-a");
    assert_eq!(
        l.values.value("provider.both.api_key"),
        "own",
        "an explicit key wins over the fallback"
    );
    // Masked in every rendering.
    let masked = l.masked();
    let shown: Vec<_> = masked
        .iter()
        .filter(|(k, ..)| k.ends_with("api_key"))
        .collect();
    assert_eq!(shown.len(), 3);
    assert!(shown.iter().all(|(_, v, _)| v == "****"));
    assert!(!format!("{masked:?}").contains("sk-o"));
}

#[test]
fn masking_urls_with_passwords() {
    let f = Fixture::new();
    let l = f
        .load(
            sets(&["store.url=postgres://gw:s3cret@127.0.0.1:5432/gw"]),
            &[],
        )
        .unwrap();
    let (_, v, _) = l
        .masked()
        .into_iter()
        .find(|(k, ..)| k == "store.url")
        .unwrap();
    assert_eq!(v, "postgres://gw:****@127.0.0.1:5432/gw");
}

#[test]
fn malformed_ini_names_file_and_line() {
    let f = Fixture::new();
    let p = f.write(
        "setting.ini",
        "[server]\nlisten = 127.0.0.1:1\nthis line is junk\n",
    );
    let err = f.load(LoadOptions::default(), &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Malformed { line: 3, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:3", p.display())), "{msg}");
    f.write("setting.ini", "[server\n");
    let msg = f.load(LoadOptions::default(), &[]).unwrap_err().to_string();
    assert!(msg.contains("setting.ini:1") && msg.contains("]"), "{msg}");
}

#[test]
fn invalid_values_name_key_and_origin() {
    let f = Fixture::new();
    let p = f.write("setting.ini", "[server]\n\nmax_body_bytes = lots\n");
    let msg = f
        .load(LoadOptions::default(), &[])
        .unwrap()
        .settings()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("server.max_body_bytes"), "{msg}");
    assert!(msg.contains(&format!("file:{}:3", p.display())), "{msg}");

    let f = Fixture::new();
    let msg = f
        .load(sets(&["limits.memory_shed_percent=150"]), &[])
        .unwrap()
        .settings()
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("limits.memory_shed_percent (flag)") && msg.contains("out of range"),
        "{msg}"
    );

    let msg = f
        .load(sets(&["routes.gpt-*=nowhere"]), &[])
        .unwrap()
        .settings()
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("routes.gpt-*") && msg.contains("`nowhere`"),
        "{msg}"
    );

    let msg = f
        .load(sets(&["provider.mine.base_url=http://127.0.0.1:1"]), &[])
        .unwrap()
        .settings()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("provider.mine.type"), "{msg}");
    assert!(
        f.load(sets(&["prices.gpt-*=1"]), &[])
            .unwrap()
            .settings()
            .is_err()
    );
    assert!(LoadOptions::default().push_set("novalue").is_err());
}

#[test]
fn unknown_keys_warn_with_suggestions() {
    let f = Fixture::new();
    let p = f.write(
        "setting.ini",
        "[server]\nlisen = 127.0.0.1:1\n[provider.openai]\nbse_url = http://x\n",
    );
    let l = f
        .load(
            sets(&["log.levl=debug"]),
            &[("TOKGATEWAY_SERVER_LISTN", "x"), ("TOKGATEWAY_ENV", "dev")],
        )
        .unwrap();
    let w = l.warnings.join("\n");
    assert!(
        w.contains(&format!(
            "unknown key `server.lisen` (file:{}:2)",
            p.display()
        )),
        "{w}"
    );
    assert!(w.contains("did you mean `server.listen`?"), "{w}");
    assert!(
        w.contains("did you mean `provider.openai.base_url`?"),
        "{w}"
    );
    assert!(
        w.contains("unknown key `log.levl` (flag)") && w.contains("`log.level`"),
        "{w}"
    );
    assert!(
        w.contains("TOKGATEWAY_SERVER_LISTN") && w.contains("TOKGATEWAY_SERVER_LISTEN"),
        "{w}"
    );
    assert!(
        !w.contains("TOKGATEWAY_ENV "),
        "control variables are not unknown: {w}"
    );
    // Unknown keys do not become effective.
    assert!(l.values.get("server.lisen").is_none());
}

#[test]
fn routes_keep_file_order_and_overlay_overrides() {
    let f = Fixture::new();
    f.write(
        "setting.ini",
        "[provider.openai]\n[provider.anthropic]\n[routes]\nclaude-* = anthropic\ngpt-4.1* = openai, anthropic\n* = openai\n[aliases]\nfast = gpt-4o-mini\n[prices]\ngpt-4o-mini = 0.15,0.6\n",
    );
    f.write("dev/gateway.ini", "[routes]\nclaude-* = openai\n");
    let s = f
        .load(LoadOptions::default(), &[])
        .unwrap()
        .settings()
        .unwrap();
    let globs: Vec<_> = s.routes.iter().map(|r| r.glob.as_str()).collect();
    assert_eq!(globs, ["claude-*", "gpt-4.1*", "*"]);
    assert_eq!(s.routes[0].providers, ["openai"]);
    assert_eq!(s.routes[1].providers, ["openai", "anthropic"]);
    assert_eq!(s.aliases, [("fast".to_owned(), "gpt-4o-mini".to_owned())]);
    assert!((s.prices[0].input_per_mtok - 0.15).abs() < 1e-9);
    assert!((s.prices[0].output_per_mtok - 0.6).abs() < 1e-9);
}

#[test]
fn computed_defaults_follow_the_container() {
    let f = Fixture::new();
    let host = HostFacts {
        cpus: 8,
        cgroup_memory_bytes: Some(512 << 20),
        cgroup_cpus: Some(1.5),
    };
    let opts = LoadOptions {
        config_dir: Some(f.cfg()),
        ..LoadOptions::default()
    };
    let l = load(&opts, &f.env(&[]), Os::Linux, f.dir.path(), host).unwrap();
    assert_eq!(l.values.value("limits.max_memory"), "512MiB");
    let s = l.settings().unwrap();
    assert_eq!(s.limits.max_memory, Some(512 << 20));
    assert_eq!(s.limits.worker_threads, 2);
}

#[test]
fn data_dir_override() {
    let f = Fixture::new();
    let l = f
        .load(
            LoadOptions::default(),
            &[("TOKGATEWAY_DATA_DIR", "/srv/tgw")],
        )
        .unwrap();
    assert_eq!(l.values.value("store.url"), "sqlite:///srv/tgw/gateway.db");
}

/// The shipped `config/` files and the docs reference are renderings of the
/// registry. Run with `BLESS=1` to rewrite them after changing the registry.
#[test]
fn generated_files_match_the_registry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut expected = vec![(root.join("config/setting.ini"), template::setting_ini())];
    for env in template::SHIPPED_ENVS {
        expected.push((
            root.join(format!("config/{env}/gateway.ini")),
            template::overlay_ini(env),
        ));
    }
    let doc_path = root.join("docs/configuration.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let generated_doc = match (doc.find(template::DOC_BEGIN), doc.find(template::DOC_END)) {
        (Some(b), Some(e)) if b < e => format!(
            "{}{}\n{}{}",
            &doc[..b + template::DOC_BEGIN.len()],
            "\n",
            template::reference_markdown(),
            &doc[e..]
        ),
        _ => panic!("docs/configuration.md lacks the generated-section markers"),
    };
    expected.push((doc_path, generated_doc));
    let bless = std::env::var_os("BLESS").is_some();
    for (path, want) in expected {
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, want).unwrap();
            } else {
                panic!(
                    "{} is out of date with the key registry; run `BLESS=1 cargo test -p tokgateway-core --test config`",
                    path.display()
                );
            }
        }
    }
    // The shipped templates load cleanly, with no warnings.
    let home = tempfile::tempdir().unwrap();
    for env in template::SHIPPED_ENVS {
        let opts = LoadOptions {
            config_dir: Some(root.join("config")),
            env: Some((*env).to_owned()),
            sets: vec![],
        };
        let l = load(
            &opts,
            &Environment::from_pairs([("HOME", home.path().to_str().unwrap())]),
            Os::Linux,
            home.path(),
            HOST,
        )
        .unwrap();
        assert!(l.warnings.is_empty(), "{env}: {:?}", l.warnings);
        let s = l.settings().unwrap();
        assert_eq!(s.auth.enabled, *env != "dev");
    }
}
