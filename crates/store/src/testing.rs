//! Throwaway servers for tests: PostgreSQL (initdb + pg_ctl from Debian's
//! `postgresql`) and Redis (`redis-server`), each in a temp dir on a free
//! loopback port, stopped on drop. When the binaries are missing, `start`
//! returns `None` — unless `TGW_REQUIRE_SERVICES=1` (as `.ci/run` sets), then it
//! panics, so CI cannot pass by skipping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var_os("TGW_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !required(),
        "{what} is not installed and TGW_REQUIRE_SERVICES=1"
    );
    eprintln!("SKIP: {what} is not installed");
    None
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn pg(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run a PostgreSQL tool")
}

/// A running throwaway PostgreSQL.
pub struct Postgres {
    pub url: String,
    bin: PathBuf,
    data: String,
    opts: String,
    log: String,
    _dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> Option<Self> {
        let Some(bin) = pg_bin() else {
            return missing("PostgreSQL (apt-get install postgresql)");
        };
        let dir = tempfile::Builder::new()
            .prefix("tgw-pg")
            .tempdir_in("/tmp")
            .unwrap();
        if is_root() {
            assert!(
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(dir.path())
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let data = dir.path().join("data").display().to_string();
        let out = pg(
            &bin,
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=100",
            dir.path().display()
        );
        let log = dir.path().join("log").display().to_string();
        let out = pg(
            &bin,
            "pg_ctl",
            &[
                "-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "30", "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            data,
            opts,
            log,
            _dir: dir,
        })
    }

    /// Stops the server (an outage), keeping its data.
    pub fn stop(&self) {
        let out = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "fast", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        let out = pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D", &self.data, "-o", &self.opts, "-l", &self.log, "-w", "-t", "30", "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "immediate", "-w", "stop"],
        );
    }
}

/// A running throwaway Redis.
pub struct Redis {
    pub url: String,
    child: Child,
}

impl Redis {
    pub fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return missing("Redis (apt-get install redis-server)");
        }
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            child,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A ledger row of key `key` (`None`: auth off) costing `cost_usd`.
fn spend_row(request_id: &str, key: Option<&str>, cost_usd: f64, time: i64) -> crate::UsageRow {
    crate::UsageRow {
        id: String::new(),
        time,
        request_id: request_id.into(),
        user: key.map(|_| "spender".into()),
        key_id: key.map(Into::into),
        endpoint: "/v1/chat/completions".into(),
        requested_model: "m".into(),
        upstream_model: "m".into(),
        provider: "p".into(),
        prompt_tokens: 1,
        completion_tokens: 1,
        cost_usd,
        latency_ms: 1,
        ttfb_ms: None,
        status: 200,
        error_type: None,
        streamed: false,
    }
}

/// Checks, on either engine, that keys' spend (what budgets read) grows by
/// the cost of each row written once: rows written again add nothing, new
/// rows among retried ones add only themselves, keyless rows add to no key,
/// and each key's spend equals the sum of its rows. Uses keys `spend-k1` …
/// `spend-k3`, which must have no rows yet.
pub async fn key_spend_follows_the_rows_written(s: &crate::Store) {
    let spend = async |key: &str| s.key_spend_usd(key).await.unwrap();
    let t0 = 1_790_000_000_000;
    let (k1, k2, k3) = (Some("spend-k1"), Some("spend-k2"), Some("spend-k3"));
    // Multiples of 1/4 USD: sums are exact in binary floating point.
    let rows = vec![
        spend_row("s1", k1, 0.5, t0),
        spend_row("s2", k2, 1.0, t0),
        spend_row("s3", k1, 0.25, t0 + 1),
    ];
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 3);
    assert_eq!(
        (spend("spend-k1").await, spend("spend-k2").await),
        (0.75, 1.0)
    );
    assert_eq!(spend("spend-nobody").await, 0.0);
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 0);
    assert_eq!(
        (spend("spend-k1").await, spend("spend-k2").await),
        (0.75, 1.0),
        "a retried batch adds nothing"
    );
    let mut again: Vec<crate::UsageRow> = (0..40)
        .map(|n| spend_row(&format!("t{n}"), if n % 2 == 0 { k1 } else { k3 }, 0.25, t0))
        .collect();
    assert_eq!(s.insert_usage(&again[..10]).await.unwrap(), 10);
    again.push(spend_row("t-open", None, 8.0, t0));
    again.extend(rows);
    assert_eq!(
        s.insert_usage(&again).await.unwrap(),
        31,
        "new rows among retried ones"
    );
    assert_eq!(spend("spend-k1").await, 0.75 + 20.0 * 0.25);
    assert_eq!(spend("spend-k3").await, 20.0 * 0.25);
    assert_eq!(spend("spend-k2").await, 1.0);
    for key in ["spend-k1", "spend-k2", "spend-k3"] {
        let of_key = s
            .usage_summary(crate::Group::Key, None, None, Some(key))
            .await
            .unwrap();
        assert_eq!(of_key.total.cost_usd, spend(key).await, "{key}");
    }
}

/// Opens `n` stores on `url` at once, as instances (or a `gateway` command
/// beside gatewayd) starting together do; checks that every one opened and
/// that each schema version is recorded once (1, 2, … with none missing or
/// twice), and returns them in order.
pub async fn connect_at_once(url: &str, n: usize) -> Vec<i64> {
    let starts: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move { crate::Store::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        match start.await.unwrap() {
            Ok(s) => stores.push(s),
            Err(e) => panic!("a store did not open: {e}"),
        }
    }
    let versions = sqlx::query_scalar("SELECT version FROM schema_version ORDER BY version")
        .fetch_all(stores[0].pool())
        .await
        .unwrap();
    for s in stores {
        s.close().await;
    }
    let want: Vec<i64> = (1..=versions.len() as i64).collect();
    assert_eq!(versions, want, "each version recorded once");
    versions
}
