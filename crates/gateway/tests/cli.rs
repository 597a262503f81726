//! Runs the real `gateway` binary with a clean environment.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

struct Ctx {
    dir: tempfile::TempDir,
}

impl Ctx {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn cfg(&self) -> PathBuf {
        self.dir.path().join("cfg")
    }
    /// `gateway` with no inherited environment but HOME and PATH, run in the temp dir.
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("gateway").unwrap();
        c.env_clear()
            .env("HOME", self.dir.path().join("home"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.dir.path());
        c
    }
    fn with_cfg(&self) -> Command {
        let mut c = self.cmd();
        c.arg("--config").arg(self.cfg());
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self.with_cfg().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn version() {
    Ctx::new()
        .cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("gateway {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2_without_a_panic() {
    Ctx::new()
        .cmd()
        .arg("--no-such-flag")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unexpected argument")
                .and(predicate::str::contains("panicked").not()),
        );
}

#[test]
fn init_writes_templates_and_refuses_to_overwrite() {
    let c = Ctx::new();
    c.with_cfg().arg("init").assert().success();
    for f in [
        "setting.ini",
        "dev/gateway.ini",
        "test/gateway.ini",
        "live/gateway.ini",
    ] {
        assert!(c.cfg().join(f).is_file(), "{f} missing");
    }
    let base = read(&c.cfg().join("setting.ini"));
    assert!(base.contains("# listen = 127.0.0.1:8081"));
    assert!(base.contains("TOKGATEWAY_SERVER_LISTEN"));
    assert!(read(&c.cfg().join("dev/gateway.ini")).contains("enabled = false"));
    assert!(read(&c.cfg().join("live/gateway.ini")).contains("enabled = true"));
    // The repo ships exactly what init writes.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/setting.ini");
    assert_eq!(base, read(&shipped));

    std::fs::write(
        c.cfg().join("setting.ini"),
        "[server]\nlisten = 127.0.0.1:1\n",
    )
    .unwrap();
    c.with_cfg().arg("init").assert().code(1).stderr(
        predicate::str::contains("refusing to overwrite").and(predicate::str::contains("--force")),
    );
    assert!(
        read(&c.cfg().join("setting.ini")).contains("127.0.0.1:1"),
        "nothing overwritten"
    );
    c.with_cfg().args(["init", "--force"]).assert().success();
    assert!(!read(&c.cfg().join("setting.ini")).contains("127.0.0.1:1"));
}

#[test]
fn init_with_dir_and_env() {
    let c = Ctx::new();
    let dir = c.dir.path().join("elsewhere");
    c.cmd()
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--env", "live"])
        .assert()
        .success();
    assert!(read(&dir.join("setting.ini")).contains("\nenvironment = live\n"));
    let out = c
        .cmd()
        .arg("--config")
        .arg(&dir)
        .args(["config", "get", "auth.enabled", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["value"], "true");
}

#[test]
fn show_with_origins() {
    let c = Ctx::new();
    std::fs::create_dir_all(c.cfg().join("dev")).unwrap();
    std::fs::write(
        c.cfg().join("setting.ini"),
        "[server]\nlisten = 127.0.0.1:7000\n[provider.openai]\napi_key = sk-secret-1\n",
    )
    .unwrap();
    std::fs::write(c.cfg().join("dev/gateway.ini"), "[log]\nlevel = debug\n").unwrap();
    let out = c
        .with_cfg()
        .args([
            "config",
            "show",
            "--origin",
            "--set",
            "server.console=false",
        ])
        .env("TOKGATEWAY_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let base = c.cfg().join("setting.ini");
    assert!(
        text.contains(&format!(
            "server.listen = 127.0.0.1:7000  (file:{}:2)",
            base.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "log.level = debug  (file:{}:2)",
            c.cfg().join("dev/gateway.ini").display()
        )),
        "{text}"
    );
    assert!(
        text.contains("log.format = json  (env:TOKGATEWAY_LOG_FORMAT)"),
        "{text}"
    );
    assert!(text.contains("server.console = false  (flag)"), "{text}");
    assert!(
        text.contains("server.request_timeout = 600s  (default)"),
        "{text}"
    );
    assert!(text.contains("provider.openai.api_key = ****"), "{text}");
    assert!(!text.contains("sk-secret-1"), "secret leaked: {text}");

    let v = c.json(&["config", "show"]);
    assert_eq!(v["server.listen"]["value"], "127.0.0.1:7000");
    assert_eq!(
        v["server.listen"]["origin"],
        format!("file:{}:2", base.display())
    );
    assert_eq!(v["provider.openai.api_key"]["value"], "****");
    assert_eq!(v["auth.enabled"]["origin"], "default");
}

#[test]
fn get_and_set() {
    let c = Ctx::new();
    c.with_cfg()
        .args(["config", "get", "server.listen"])
        .assert()
        .success()
        .stdout("127.0.0.1:8081\n");
    c.with_cfg()
        .args(["config", "get", "server.lisen"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean `server.listen`?"));
    c.with_cfg()
        .args(["config", "set", "server.listen", "127.0.0.1:9999"])
        .assert()
        .success();
    c.with_cfg()
        .args(["config", "get", "server.listen"])
        .assert()
        .success()
        .stdout("127.0.0.1:9999\n");
    // --listen (a flag) beats the file.
    c.with_cfg()
        .args([
            "--listen",
            "127.0.0.1:1234",
            "config",
            "get",
            "server.listen",
        ])
        .assert()
        .stdout("127.0.0.1:1234\n");
    // Into an overlay.
    c.with_cfg()
        .args(["config", "set", "log.level", "warn", "--env", "live"])
        .assert()
        .success();
    assert!(read(&c.cfg().join("live/gateway.ini")).contains("level = warn"));
    c.with_cfg()
        .args(["--env", "live", "config", "get", "log.level"])
        .assert()
        .stdout("warn\n");
    c.with_cfg()
        .args(["config", "get", "log.level"])
        .assert()
        .stdout("info\n");
    // Invalid values are refused and nothing is written.
    c.with_cfg()
        .args(["config", "set", "server.max_body_bytes", "huge"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("server.max_body_bytes"));
    // Secrets are written but never echoed.
    c.with_cfg()
        .args(["config", "set", "provider.openai.api_key", "sk-hidden-2"])
        .assert()
        .success()
        .stderr(predicate::str::contains("sk-hidden-2").not());
    c.with_cfg()
        .args(["config", "get", "provider.openai.api_key"])
        .assert()
        .stdout("****\n");
}

#[test]
fn malformed_config_is_exit_2_naming_file_and_line() {
    let c = Ctx::new();
    std::fs::create_dir_all(c.cfg()).unwrap();
    std::fs::write(c.cfg().join("setting.ini"), "[server]\nlisten 127.0.0.1\n").unwrap();
    c.with_cfg()
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:2",
            c.cfg().join("setting.ini").display()
        )));
}

#[test]
fn doctor_reports_system_dirs_and_providers() {
    let c = Ctx::new();
    // A provider on a loopback port nobody listens on is unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(c.cfg()).unwrap();
    std::fs::write(
        c.cfg().join("setting.ini"),
        format!("[provider.local]\ntype = openai\nbase_url = http://127.0.0.1:{port}/v1\n[server]\nlisen = x\n"),
    )
    .unwrap();
    let v = c.json(&["doctor"]);
    assert!(v["system"]["cpu_count"].as_u64().unwrap() >= 1);
    assert!(v["system"]["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(v["system"]["os"].is_string() && v["system"]["arch"].is_string());
    assert_eq!(v["dirs"]["config"], c.cfg().display().to_string());
    let problems = v["config"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("server.lisen")),
        "{problems:?}"
    );
    let providers = v["providers"].as_array().unwrap();
    let find = |n: &str| providers.iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(find("loopback")["reachable"], true);
    assert_eq!(find("local")["reachable"], false);
    // Human output too.
    c.with_cfg()
        .arg("doctor")
        .assert()
        .success()
        .stdout(predicate::str::contains("Providers").and(predicate::str::contains("UNREACHABLE")));
}

#[test]
fn completions() {
    Ctx::new()
        .cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_gateway()"));
}
