//! The real `gatewayd` binary: version, check, refusal to run open, start-up
//! line, and a clean exit on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn cmd(home: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("gatewayd").unwrap();
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(home);
    c
}

#[test]
fn version_and_check() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("gatewayd {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = cmd(home.path()).arg("check").output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("configuration ok")
    );
    let out = cmd(home.path())
        .args(["check", "--set", "server.listen=nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("server.listen")
    );
}

#[test]
fn refuses_to_run_open_on_a_public_address() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path())
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("auth disabled") && err.contains("auth.allow_open"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn starts_serves_and_stops_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("gatewayd"))
        .args(["--listen", "127.0.0.1:0", "--set", "log.format=json"])
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Kill the child if an assertion fails, so no daemon outlives the test.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reap(child);
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        assert!(Instant::now() < deadline, "no start-up line");
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("gatewayd listening on ").nth(1) {
            assert!(
                line.contains("\"env\":\"dev\"")
                    && line.contains("\"auth\":\"off\"")
                    && line.contains("\"store\":\"sqlite\""),
                "{line}"
            );
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.contains("\"status\":\"ok\""),
        "{resp}"
    );
    let pid = child.0.id().to_string();
    assert!(
        StdCommand::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Starts gatewayd logging to a daily file with `args`, sends it one loopback
/// request, stops it with SIGTERM; returns the log.
#[cfg(unix)]
fn log_of_one_request(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("logs/gatewayd.log");
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("gatewayd"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--set")
        .arg(format!("log.file={}", log.display()))
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path())
        .spawn()
        .unwrap();
    // The start-up line goes to the file: find the port there.
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        assert!(
            Instant::now() < deadline,
            "no start-up line in the log file"
        );
        let text = std::fs::read_dir(log.parent().unwrap())
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect::<String>()
            })
            .unwrap_or_default();
        if let Some(rest) = text.split("gatewayd listening on http://").nth(1) {
            break rest
                .split(|c: char| c == '"' || c.is_whitespace())
                .next()
                .unwrap()
                .to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let body = r#"{"model":"loopback","messages":[{"role":"user","content":"hi"}]}"#;
    write!(s, "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        StdCommand::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let files: Vec<_> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.file_name().to_string_lossy().starts_with("gatewayd.log")),
        "daily files are named gatewayd.log.DATE"
    );
    files
        .iter()
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .collect()
}

#[cfg(unix)]
#[test]
fn logs_to_a_rotated_file_without_secrets() {
    let text = log_of_one_request(&[
        "--set",
        "log.format=json",
        "--set",
        "provider.up.type=openai",
        "--set",
        "provider.up.api_key=sk-very-secret-1",
    ]);
    let line = text
        .lines()
        .find(|l| l.contains("\"target\":\"tokgateway::request\""))
        .unwrap_or_else(|| panic!("one line per request: {text}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["route"], "/v1/chat/completions", "{line}");
    assert_eq!(v["model"], "loopback", "{line}");
    assert_eq!(v["status"], 200, "{line}");
    assert!(!text.contains("sk-very-secret-1"), "no secret in the logs");
}

#[cfg(unix)]
#[test]
fn request_lines_follow_the_log_filter() {
    let text = log_of_one_request(&[]);
    let line = text
        .lines()
        .find(|l| l.contains(" INFO tokgateway::request: request request_id="))
        .unwrap_or_else(|| panic!("one pretty line per request: {text}"));
    assert!(
        line.contains(
            " route=\"/v1/chat/completions\" model=loopback provider=loopback status=200 "
        ),
        "{line}"
    );
    let quiet = log_of_one_request(&["--set", "log.level=info,tokgateway::request=warn"]);
    assert!(quiet.contains("gatewayd listening on"), "{quiet}");
    assert!(!quiet.contains("tokgateway::request"), "{quiet}");
}
