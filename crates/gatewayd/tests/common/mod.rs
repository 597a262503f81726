//! Test support: gatewayd started in-process on port 0 with a config built
//! from ini text, and scriptable mock upstreams on port 0.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use tokgateway_core::config::{HostFacts, LoadOptions, Settings, load};
use tokgateway_core::dirs::Os;
use tokgateway_core::env::Environment;

/// Settings from `setting.ini` text plus `--set` pairs, isolated from the
/// host; the store lives in `dir`.
pub fn settings_in(dir: &std::path::Path, ini: &str, sets: &[&str]) -> Settings {
    std::fs::write(dir.join("setting.ini"), ini).unwrap();
    let mut opts = LoadOptions {
        config_dir: Some(dir.to_owned()),
        ..LoadOptions::default()
    };
    opts.push_set("server.listen=127.0.0.1:0").unwrap();
    for s in sets {
        opts.push_set(s).unwrap();
    }
    let env = Environment::from_pairs([("HOME", dir.to_str().unwrap())]);
    let host = HostFacts {
        cpus: 2,
        cgroup_memory_bytes: None,
        cgroup_cpus: None,
    };
    let loaded = load(&opts, &env, Os::Linux, dir, host).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.settings().unwrap()
}

/// A gatewayd started in-process, with its temporary config and store.
pub struct TestGateway {
    running: tokgateway_gatewayd::Running,
    pub dir: tempfile::TempDir,
}

impl std::ops::Deref for TestGateway {
    type Target = tokgateway_gatewayd::Running;
    fn deref(&self) -> &Self::Target {
        &self.running
    }
}

impl TestGateway {
    /// Stops the gateway; the returned directory keeps its store until dropped.
    pub async fn stop(self) -> tempfile::TempDir {
        self.running.stop().await;
        self.dir
    }

    /// The store's URL, to open it while or after the gateway runs.
    pub fn store_url(&self) -> String {
        self.running.app.settings.store_url.clone()
    }
}

pub async fn gateway(ini: &str, sets: &[&str]) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let running = tokgateway_gatewayd::start(settings_in(dir.path(), ini, sets))
        .await
        .unwrap();
    TestGateway { running, dir }
}

/// One scripted upstream answer.
#[derive(Clone)]
pub enum Reply {
    /// Status and JSON body.
    Json(u16, String),
    /// Status, body and a Retry-After header.
    RetryAfter(u16, String, String),
    /// SSE chunks sent with a pause between them; `cut` ends the body early (no terminator is added).
    Stream {
        chunks: Vec<String>,
        pause: Duration,
    },
    /// Waits, then answers.
    Slow(Duration, String),
}

/// What the mock saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

#[derive(Default)]
pub struct MockState {
    pub replies: Mutex<VecDeque<Reply>>,
    pub default: Mutex<Option<Reply>>,
    pub seen: Mutex<Vec<Seen>>,
    pub hits: AtomicUsize,
    /// Set when a streamed body was dropped before it finished (client went away).
    pub stream_dropped: Arc<AtomicBool>,
}

pub struct Mock {
    pub url: String,
    pub state: Arc<MockState>,
}

impl Mock {
    pub async fn start() -> Self {
        let state = Arc::new(MockState::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .route("/v1/embeddings", post(handle))
            .route("/v1/messages", post(handle))
            .route("/v1/responses", post(handle))
            .route("/v1beta/models/{target}", post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    pub fn push(&self, r: Reply) {
        self.state.replies.lock().unwrap().push_back(r);
    }

    pub fn always(&self, r: Reply) {
        *self.state.default.lock().unwrap() = Some(r);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

struct DropFlag(Arc<AtomicBool>, bool);
impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

async fn handle(
    State(st): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.hits.fetch_add(1, Ordering::SeqCst);
    st.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    });
    let reply = st
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| st.default.lock().unwrap().clone());
    let json = |status: u16, body: String| {
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    match reply {
        None => json(
            500,
            r#"{"error":{"message":"mock has no reply"}}"#.to_owned(),
        ),
        Some(Reply::Json(s, b)) => json(s, b),
        Some(Reply::RetryAfter(s, b, ra)) => {
            let mut r = json(s, b);
            r.headers_mut().insert("retry-after", ra.parse().unwrap());
            r
        }
        Some(Reply::Slow(d, b)) => {
            tokio::time::sleep(d).await;
            json(200, b)
        }
        Some(Reply::Stream { chunks, pause }) => {
            let flag = st.stream_dropped.clone();
            let n = chunks.len();
            let s = futures_util::stream::unfold(
                (chunks.into_iter(), 0usize, DropFlag(flag, false)),
                move |(mut it, i, mut guard)| async move {
                    let c = it.next()?;
                    if i > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    if i + 1 == n {
                        guard.1 = true;
                    }
                    Some((
                        Ok::<_, std::convert::Infallible>(Bytes::from(c)),
                        (it, i + 1, guard),
                    ))
                },
            );
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(s))
                .unwrap()
        }
    }
}

/// Splits SSE text into chunks at awkward places (inside lines and events).
pub fn awkward_chunks(text: &str, size: usize) -> Vec<String> {
    text.as_bytes()
        .chunks(size)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .build()
        .unwrap()
}

/// Parses an SSE body into `(event, data)` pairs.
pub fn sse_events(body: &str) -> Vec<(Option<String>, String)> {
    let mut d = tokgateway_gatewayd::sse::Decoder::default();
    d.feed(body.as_bytes())
        .into_iter()
        .map(|e| (e.event, e.data))
        .collect()
}
