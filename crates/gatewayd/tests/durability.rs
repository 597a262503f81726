//! No lost ledger rows: SIGTERM under load (async durability) and `kill -9`
//! under load with `ledger.durability = sync`. Runs the real binary.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

struct Daemon {
    child: Child,
    url: String,
    store_url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn daemon(durability: &str) -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite://{}", keep.path().join("gateway.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatewayd"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--set",
            &format!("ledger.durability={durability}"),
            "--set",
            &format!("store.url={store_url}"),
        ])
        .args([
            "--set",
            "ledger.flush_interval=200ms",
            "--set",
            "log.format=json",
            "--set",
            "log.level=info,tokgateway::request=warn",
        ])
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        assert!(Instant::now() < deadline, "no start-up line");
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("gatewayd listening on ").nth(1) {
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (
        Daemon {
            child,
            url,
            store_url,
            _dir: dir,
        },
        keep,
    )
}

/// Sends requests from 8 tasks until told to stop; returns the ids of the
/// requests whose complete, successful response the client saw.
async fn load(url: String, stop: Arc<Mutex<bool>>) -> Vec<String> {
    tokgateway_gatewayd::tls::install_crypto_provider();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (url, stop, seen) = (url.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::builder().tls_backend_rustls().build().unwrap();
            let mut n = 0;
            while !*stop.lock().unwrap() {
                n += 1;
                let stream = (t + n) % 2 == 0;
                let Ok(r) = c
                    .post(format!("{url}/v1/chat/completions"))
                    .json(&json!({"model": "loopback", "stream": stream, "messages": [{"role": "user", "content": "x y"}]}))
                    .send()
                    .await
                else {
                    break;
                };
                if r.status() != 200 {
                    break;
                }
                let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
                match r.text().await {
                    Ok(body) if !stream || body.ends_with("data: [DONE]\n\n") => seen.lock().unwrap().push(id),
                    _ => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    std::mem::take(&mut *seen.lock().unwrap())
}

async fn missing(store_url: &str, ids: &[String]) -> Vec<String> {
    let store = tokgateway_store::Store::connect(store_url).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        if !store.has_usage(id).await.unwrap() {
            out.push(id.clone());
        }
    }
    store.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing() {
    let (d, _keep) = daemon("async");
    let stop = Arc::new(Mutex::new(false));
    let load = tokio::spawn(load(d.url.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = d.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    *stop.lock().unwrap() = true;
    let ids = load.await.unwrap();
    let mut d = d;
    assert_eq!(d.child.wait().unwrap().code(), Some(0));
    assert!(ids.len() > 20, "the load ran ({})", ids.len());
    let lost = missing(&d.store_url, &ids).await;
    assert!(
        lost.is_empty(),
        "{} of {} rows lost: {:?}",
        lost.len(),
        ids.len(),
        &lost[..lost.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_sync_durability_loses_nothing() {
    let (mut d, _keep) = daemon("sync");
    let stop = Arc::new(Mutex::new(false));
    let load = tokio::spawn(load(d.url.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    d.child.kill().unwrap();
    let _ = d.child.wait();
    *stop.lock().unwrap() = true;
    let ids = load.await.unwrap();
    assert!(ids.len() > 20, "the load ran ({})", ids.len());
    let lost = missing(&d.store_url, &ids).await;
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged rows lost: {:?}",
        lost.len(),
        ids.len(),
        &lost[..lost.len().min(5)]
    );
}
