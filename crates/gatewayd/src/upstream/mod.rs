//! Upstream providers. Each HTTP provider (`openai`, `anthropic`, `gemini`)
//! has one pooled, keep-alive client: hyper's (the one `reqwest` wraps),
//! used directly because the layers `reqwest` adds on top — URL parsing and
//! re-parsing, header copies, boxed futures — cost about as much CPU per
//! request as the whole forwarding (bench/RESULTS.md). TLS is rustls with
//! the platform's certificate verifier; HTTPS upstreams get HTTP/2 when they
//! offer it. The `loopback` provider answers in-process (see [`loopback`]).

pub mod loopback;

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_platform_verifier::ConfigVerifierExt;
use tokgateway_core::config::settings::{ProviderKind, ProviderSettings};

use crate::error::Protocol;

/// The Anthropic API version sent when the client names none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Which upstream operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Embeddings,
    /// OpenAI `/responses` (providers with `responses = true`).
    Responses,
}

/// The pooled HTTP(S) client of one provider.
type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One configured provider, ready to call.
pub struct Upstream {
    pub settings: ProviderSettings,
    client: Option<HttpClient>,
    /// Parsed once: parsing a URL per request is measurable on the hot path.
    chat_url: Option<Uri>,
    embeddings_url: Option<Uri>,
    responses_url: Option<Uri>,
    /// The provider's name as the `x-gateway-provider` header value.
    pub name_header: HeaderValue,
    /// The provider's credential header, built once and marked sensitive.
    credential: Option<(HeaderName, HeaderValue)>,
    /// The `Host` header of a plain-HTTP provider, built once (hyper would
    /// format it from the URL on every request). HTTPS providers leave it to
    /// hyper, which sends it only on HTTP/1 connections.
    host: Option<HeaderValue>,
    /// Outcomes of the attempts made through this process, for the console.
    pub health: Health,
}

/// A provider's recent outcomes, as seen by this gatewayd process. Counting
/// costs two relaxed atomic operations per attempt; the last error's text is
/// behind a mutex taken only when an attempt fails.
#[derive(Debug, Default)]
pub struct Health {
    attempts: AtomicU64,
    failures: AtomicU64,
    /// Unix milliseconds of the last success and the last failure (0: never).
    last_ok_ms: AtomicI64,
    last_failure_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
}

/// [`Health`] at one moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthSnapshot {
    pub requests: u64,
    pub errors: u64,
    pub last_ok_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// False when the latest attempt failed.
    pub healthy: bool,
}

impl Health {
    pub fn record_ok(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        // Written only when the millisecond changed: at load every request
        // would otherwise write the same shared cache line.
        let now = tokgateway_store::now_ms();
        if self.last_ok_ms.load(Ordering::Relaxed) != now {
            self.last_ok_ms.store(now, Ordering::Relaxed);
        }
    }

    pub fn record_failure(&self, failure: &Failure) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        let text = match failure {
            Failure::Connect(m) => m.clone(),
            Failure::Timeout => "no response within the provider's timeout".to_owned(),
            Failure::Status { status, body, .. } => match error_message(body) {
                Some(m) => format!("HTTP {status}: {m}"),
                None => format!("HTTP {status}"),
            },
        };
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(text);
        }
        self.last_failure_ms
            .store(tokgateway_store::now_ms(), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        let at = |ms: i64| (ms > 0).then(|| tokgateway_store::rfc3339_ms(ms));
        let ok = self.last_ok_ms.load(Ordering::Relaxed);
        let failed = self.last_failure_ms.load(Ordering::Relaxed);
        HealthSnapshot {
            requests: self.attempts.load(Ordering::Relaxed),
            errors: self.failures.load(Ordering::Relaxed),
            last_ok_at: at(ok),
            last_error: self.last_error.lock().ok().and_then(|l| l.clone()),
            last_error_at: at(failed),
            healthy: failed <= ok,
        }
    }
}

/// Why an upstream attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// No connection (refused, DNS, TLS, reset before a response).
    Connect(String),
    /// No response headers within the provider's timeout.
    Timeout,
    /// A non-2xx response.
    Status {
        status: u16,
        body: Bytes,
        retry_after: Option<String>,
    },
}

impl Failure {
    /// Worth another attempt (same provider or the next): connect errors,
    /// timeouts, 429 and 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Connect(_) | Self::Timeout => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }

    /// A label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Timeout => "timeout",
            Self::Status { status: 429, .. } => "rate_limited",
            Self::Status { status, .. } if *status >= 500 => "server_error",
            Self::Status { .. } => "client_error",
        }
    }
}

impl Upstream {
    /// Builds the provider's client. Only HTTP providers get one.
    pub fn new(settings: ProviderSettings) -> anyhow::Result<Self> {
        let base = settings.base_url.trim_end_matches('/');
        let (chat_url, embeddings_url, responses_url) = match settings.kind {
            ProviderKind::OpenAi => (
                format!("{base}/chat/completions"),
                format!("{base}/embeddings"),
                if settings.responses {
                    format!("{base}/responses")
                } else {
                    String::new()
                },
            ),
            ProviderKind::Anthropic => {
                (format!("{base}/v1/messages"), String::new(), String::new())
            }
            // Gemini's URL names the model: built per request (send_generate).
            ProviderKind::Gemini | ProviderKind::Loopback => {
                (String::new(), String::new(), String::new())
            }
        };
        let client = match settings.kind {
            ProviderKind::Loopback => None,
            _ => Some(http_client()),
        };
        let parse = |u: String| -> anyhow::Result<Option<Uri>> {
            if u.is_empty() {
                return Ok(None);
            }
            checked_uri(&u).map(Some).map_err(|e| {
                anyhow::anyhow!(
                    "provider `{}`: base_url does not form a valid URL: {e}",
                    settings.name
                )
            })
        };
        let credential = credential_header(&settings)?;
        let name_header = HeaderValue::from_str(&settings.name).map_err(|_| {
            anyhow::anyhow!(
                "provider name `{}` cannot be sent in a header",
                settings.name
            )
        })?;
        let chat_url = parse(chat_url)?;
        let embeddings_url = parse(embeddings_url)?;
        let responses_url = parse(responses_url)?;
        let host = checked_uri(base).ok().as_ref().and_then(plain_http_host);
        Ok(Self {
            settings,
            client,
            chat_url,
            embeddings_url,
            responses_url,
            name_header,
            credential,
            host,
            health: Health::default(),
        })
    }

    /// Whether `/v1/responses` is passed through to this provider.
    pub fn serves_responses(&self) -> bool {
        self.responses_url.is_some()
    }

    /// The protocol this provider speaks (`None` for loopback, which speaks both).
    pub fn protocol(&self) -> Option<Protocol> {
        match self.settings.kind {
            ProviderKind::OpenAi => Some(Protocol::OpenAi),
            ProviderKind::Anthropic => Some(Protocol::Anthropic),
            ProviderKind::Gemini => Some(Protocol::Gemini),
            ProviderKind::Loopback => None,
        }
    }

    /// Gemini `generateContent` (or `streamGenerateContent?alt=sse`) for `model`.
    pub async fn send_generate(
        &self,
        model: &str,
        stream: bool,
        body: Bytes,
        client_headers: &HeaderMap,
    ) -> Result<Response, Failure> {
        let r = match self.generate_url(model, stream) {
            Ok(url) => self.attempt_url(url, body, client_headers).await,
            Err(f) => Err(f),
        };
        match &r {
            Ok(_) => self.health.record_ok(),
            Err(f) => self.health.record_failure(f),
        }
        r
    }

    fn generate_url(&self, model: &str, stream: bool) -> Result<Uri, Failure> {
        // A model name is one path segment; anything that would change the
        // URL's shape is refused rather than sent.
        if model.is_empty() || model.contains(['/', '?', '#', '%', ' ']) || model.contains("..") {
            return Err(Failure::Status {
                status: 400,
                body: Bytes::from(format!(
                    r#"{{"error":{{"message":"model name `{model}` cannot be sent to a Gemini provider"}}}}"#
                )),
                retry_after: None,
            });
        }
        let base = self.settings.base_url.trim_end_matches('/');
        let url = if stream {
            format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("{base}/v1beta/models/{model}:generateContent")
        };
        checked_uri(&url).map_err(|e| Failure::Connect(format!("bad Gemini URL: {e}")))
    }

    /// Sends one request; `Ok` only for a 2xx response, whose body is still
    /// to be read. `client_headers` are the client's own headers, from which
    /// only protocol headers (`anthropic-version`, `anthropic-beta`) are passed
    /// on — never the client's credentials.
    pub async fn send(
        &self,
        op: Operation,
        body: Bytes,
        client_headers: &HeaderMap,
    ) -> Result<Response, Failure> {
        let r = self.attempt(op, body, client_headers).await;
        match &r {
            Ok(_) => self.health.record_ok(),
            Err(f) => self.health.record_failure(f),
        }
        r
    }

    async fn attempt(
        &self,
        op: Operation,
        body: Bytes,
        client_headers: &HeaderMap,
    ) -> Result<Response, Failure> {
        let url = match op {
            Operation::Chat => &self.chat_url,
            Operation::Embeddings => &self.embeddings_url,
            Operation::Responses => &self.responses_url,
        };
        let Some(url) = url.clone() else {
            return Err(Failure::Connect(format!(
                "provider `{}` does not offer this operation",
                self.settings.name
            )));
        };
        self.attempt_url(url, body, client_headers).await
    }

    async fn attempt_url(
        &self,
        url: Uri,
        body: Bytes,
        client_headers: &HeaderMap,
    ) -> Result<Response, Failure> {
        let Some(client) = &self.client else {
            return Err(Failure::Connect(
                "the loopback provider takes no HTTP requests".to_owned(),
            ));
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = url;
        let h = req.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(host) = &self.host {
            h.insert(header::HOST, host.clone());
        }
        if let Some((name, value)) = &self.credential {
            h.insert(name.clone(), value.clone());
        }
        if self.settings.kind == ProviderKind::Anthropic {
            let version = client_headers
                .get("anthropic-version")
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static(ANTHROPIC_VERSION));
            h.insert("anthropic-version", version);
            if let Some(beta) = client_headers.get("anthropic-beta") {
                h.insert("anthropic-beta", beta.clone());
            }
        }
        let resp = match tokio::time::timeout(self.settings.timeout, client.request(req)).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(e)) => return Err(Failure::Connect(describe(&e))),
            Ok(Ok(r)) => Response(r),
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = tokio::time::timeout(self.settings.timeout, resp.bytes())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Err(Failure::Status {
            status,
            body,
            retry_after,
        })
    }
}

/// An upstream's response; its body is read with [`Response::bytes`] or
/// [`Response::bytes_stream`]. Dropping it closes the upstream request.
pub struct Response(hyper::Response<hyper::body::Incoming>);

/// A response body that broke off.
#[derive(Debug)]
pub struct BodyError(hyper::Error);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.0.headers()
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, BodyError> {
        self.0
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .map_err(BodyError)
    }

    /// The body as it arrives (data frames; trailers are skipped).
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static {
        futures_util::TryStreamExt::map_err(
            http_body_util::BodyDataStream::new(self.0.into_body()),
            BodyError,
        )
    }
}

/// A pooled HTTP/1.1 and HTTP/2 (over TLS, by ALPN) client with rustls.
fn http_client() -> HttpClient {
    crate::tls::install_crypto_provider();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(90))
        // Without a timer, idle connections past the timeout are only dropped
        // when the pool next looks at them; with it, they are closed on time.
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(https)
}

/// The TLS client configuration, made once: the platform's certificate
/// verifier (the OS store on macOS and Windows; on Linux the system bundle,
/// or `SSL_CERT_FILE` / `SSL_CERT_DIR`). Where no trusted certificate can be
/// found, a warning, and HTTPS upstreams fail to connect while plain HTTP
/// ones (a local model server) still work.
fn tls_config() -> rustls::ClientConfig {
    static CONFIG: std::sync::OnceLock<rustls::ClientConfig> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            rustls::ClientConfig::with_platform_verifier().unwrap_or_else(|e| {
                tracing::warn!(
                    error = %e,
                    "no trusted TLS certificates found: HTTPS upstreams cannot be reached"
                );
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            })
        })
        .clone()
}

/// `url` as a request target: absolute, http or https.
fn checked_uri(url: &str) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.authority().is_some() => Ok(uri),
        _ => Err("the URL must start with http:// or https:// and name a host".to_owned()),
    }
}

/// The `Host` header for a plain `http://` URL: its host, and its port unless
/// it is 80 (what hyper sends when the request has none).
fn plain_http_host(uri: &Uri) -> Option<HeaderValue> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host()?;
    match uri.port_u16() {
        Some(port) if port != 80 => HeaderValue::from_str(&format!("{host}:{port}")).ok(),
        _ => HeaderValue::from_str(host).ok(),
    }
}

/// The header carrying the provider's key, if it has one.
fn credential_header(s: &ProviderSettings) -> anyhow::Result<Option<(HeaderName, HeaderValue)>> {
    let key = s.api_key.as_deref().unwrap_or("");
    let (name, value) = match s.kind {
        ProviderKind::Loopback => return Ok(None),
        ProviderKind::Anthropic => (HeaderName::from_static("x-api-key"), key.to_owned()),
        ProviderKind::Gemini => (HeaderName::from_static("x-goog-api-key"), key.to_owned()),
        ProviderKind::OpenAi if key.is_empty() => return Ok(None),
        ProviderKind::OpenAi => (header::AUTHORIZATION, format!("Bearer {key}")),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        anyhow::anyhow!(
            "provider `{}`: the API key holds characters an HTTP header cannot carry",
            s.name
        )
    })?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

/// A client error with its cause (hyper's errors name no URL, so no credential).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut msg = if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Extracts a human message from an upstream error body of either protocol.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/message")
        .and_then(|m| m.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_hosts_are_built_like_hyper_builds_them() {
        let host = |u: &str| plain_http_host(&checked_uri(u).unwrap());
        assert_eq!(host("http://10.0.0.5:8080/v1").unwrap(), "10.0.0.5:8080");
        assert_eq!(host("http://llm.internal/v1").unwrap(), "llm.internal");
        assert_eq!(host("http://llm.internal:80").unwrap(), "llm.internal");
        assert_eq!(host("http://[::1]:9000/v1").unwrap(), "[::1]:9000");
        assert!(host("https://api.openai.com/v1").is_none(), "left to hyper");
    }
}
