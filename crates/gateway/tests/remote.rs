//! `gateway status` and `gateway chat` against a gatewayd started in-process.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use tokgateway_core::config::{HostFacts, LoadOptions, load};
use tokgateway_core::dirs::Os;
use tokgateway_core::env::Environment;

fn start_gateway() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut opts = LoadOptions {
        config_dir: Some(home.path().join("none")),
        ..LoadOptions::default()
    };
    opts.push_set("server.listen=127.0.0.1:0").unwrap();
    let env = Environment::from_pairs([("HOME", home.path().to_str().unwrap())]);
    let settings = load(
        &opts,
        &env,
        Os::Linux,
        home.path(),
        HostFacts {
            cpus: 1,
            cgroup_memory_bytes: None,
            cgroup_cpus: None,
        },
    )
    .unwrap()
    .settings()
    .unwrap();
    let running = rt.block_on(tokgateway_gatewayd::start(settings)).unwrap();
    let url = running.url.clone();
    // Keep it serving for the life of the runtime.
    std::mem::forget(running);
    (rt, url)
}

fn gateway() -> Command {
    let mut c = Command::cargo_bin("gateway").unwrap();
    let home = std::env::temp_dir();
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    c
}

#[test]
fn status_and_chat() {
    let (_rt, url) = start_gateway();
    let out = gateway()
        .args(["status", "--json", "--url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_seconds"].is_u64());
    assert!(v["resource"]["memory_bytes"].as_u64().unwrap() > 0);
    gateway()
        .args(["status", "--url", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains("gatewayd").and(predicate::str::contains("memory:")));

    gateway()
        .args(["chat", "--url", &url, "hello", "gateway"])
        .assert()
        .success()
        .stdout("loopback: hello gateway\n")
        .stderr(
            predicate::str::contains("via loopback")
                .and(predicate::str::contains("3 completion tokens")),
        );
    gateway()
        .args(["chat", "--url", &url, "--model", "no-such-model", "hi"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("HTTP 404").and(predicate::str::contains("no-such-model")),
        );
}

#[test]
fn status_of_a_daemon_that_is_not_there() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    gateway()
        .args(["status", "--url", &format!("http://127.0.0.1:{port}")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot reach gatewayd"));
}
