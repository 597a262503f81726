//! The application: shared state and the router.
//!
//! Every request passes, in order:
//! 1. `server` — hyper (HTTP/1.1 and h2c, or TLS), graceful shutdown;
//! 2. [`frame`] — request id (the client's `x-request-id` or a new one), echoed
//!    on the response; for proxy routes, memory shedding and the concurrency
//!    cap (503 + `Retry-After` in the client's protocol), in-flight count,
//!    and the overall `server.request_timeout` (504);
//! 3. the route handler — reads the body within `server.max_body_bytes` (413),
//!    then [`crate::proxy`] for chat requests.
//!
//! Public routes: `/health`, `/ready`, `/metrics`, `/metrics/resource`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokgateway_core::config::Settings;
use tokgateway_core::system::ResourceMonitor;
use tokio::sync::Semaphore;

use crate::accounting::Sink;
use crate::error::{ApiError, Protocol};
use crate::routes;
use crate::upstream::Upstream;

/// Shared by every request.
pub struct AppState {
    pub settings: Settings,
    /// One per `settings.providers` entry, same order.
    pub upstreams: Vec<Upstream>,
    pub sink: Sink,
    pub monitor: Mutex<ResourceMonitor>,
    /// Set while memory is at or above the shedding threshold.
    pub shedding: AtomicBool,
    pub concurrency: Option<Arc<Semaphore>>,
    pub store: tokgateway_store::Store,
    /// Present when `auth.enabled`.
    pub auth: Option<crate::auth::Authenticator>,
    /// False while the last ledger write failed.
    pub ledger_healthy: Arc<AtomicBool>,
    pub limits: Arc<crate::ratelimit::RateLimits>,
    /// Where `/console/` is served from.
    pub console: crate::console::Source,
}

impl AppState {
    /// Builds the state: one pooled client per HTTP provider.
    pub fn new(
        settings: Settings,
        sink: Sink,
        store: tokgateway_store::Store,
        redis: Option<redis::aio::ConnectionManager>,
    ) -> anyhow::Result<Arc<Self>> {
        crate::tls::install_crypto_provider();
        let upstreams = settings
            .providers
            .iter()
            .cloned()
            .map(Upstream::new)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let concurrency = settings
            .limits
            .max_concurrent_requests
            .map(|n| Arc::new(Semaphore::new(n)));
        let monitor = Mutex::new(ResourceMonitor::new(settings.limits.max_memory));
        let auth = settings
            .auth
            .enabled
            .then(|| crate::auth::Authenticator::new(store.clone()));
        Ok(Arc::new(Self {
            auth,
            console: crate::console::Source::from_settings(settings.server.console_dir.as_deref()),
            settings,
            upstreams,
            sink,
            monitor,
            shedding: AtomicBool::new(false),
            concurrency,
            store,
            ledger_healthy: Arc::new(AtomicBool::new(true)),
            limits: Arc::new(crate::ratelimit::RateLimits::new(redis)),
        }))
    }

    /// Samples memory and updates the shedding flag; called periodically.
    pub fn check_memory(&self) {
        let Some(max) = self.settings.limits.max_memory else {
            return;
        };
        let rss = self.monitor.lock().map_or(0, |mut m| m.rss_bytes());
        let threshold = max / 100 * u64::from(self.settings.limits.memory_shed_percent);
        let shed = rss >= threshold;
        if self.shedding.swap(shed, Ordering::Relaxed) != shed {
            if shed {
                tracing::warn!(
                    rss,
                    threshold,
                    "memory above the shedding threshold: new requests get 503"
                );
            } else {
                tracing::info!(rss, threshold, "memory back under the shedding threshold");
            }
        }
    }
}

/// Per-request context set by [`frame`].
#[derive(Clone)]
pub struct RequestCtx {
    pub request_id: RequestId,
    pub started: Instant,
    pub permit: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
    /// The caller, when auth is on.
    pub identity: Option<Arc<crate::auth::Identity>>,
}

/// A request's id: the client's `x-request-id` (visible ASCII, at most 128
/// bytes) or a new one. It is kept as the header value it is echoed in, so
/// passing it around, echoing and logging it copy nothing.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id, when it is one we can echo and store.
    fn from_client(v: &HeaderValue) -> Option<Self> {
        let s = v.to_str().ok()?;
        (!s.is_empty() && s.len() <= 128).then(|| Self(v.clone()))
    }

    /// The header value to echo.
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        // Only visible ASCII gets in (see `from_client` and `new_request_id`).
        self.0.to_str().unwrap_or_default()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// A unique id: `req_`, milliseconds since the epoch, then 64 random bits,
/// in hex. Ids made later sort later.
pub fn new_request_id() -> RequestId {
    let mut buf = *b"req_0000000000000000000000000000";
    // 12 hex digits of milliseconds (until the year 10889), 16 of randomness.
    write_hex(&mut buf[4..16], now_millis());
    write_hex(&mut buf[16..], fastrand::u64(..));
    RequestId(HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static("req")))
}

/// Writes the low `4 × out.len()` bits of `value` into `out` as lowercase
/// hex, most significant digit first (ids without `format!`).
pub(crate) fn write_hex(out: &mut [u8], value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut v = value;
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

const X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The protocol a path speaks, for error shapes.
pub fn protocol_of(path: &str) -> Protocol {
    if path.starts_with("/anthropic/") || path.starts_with("/v1/messages") {
        Protocol::Anthropic
    } else if path.starts_with("/v1beta/") {
        Protocol::Gemini
    } else {
        Protocol::OpenAi
    }
}

/// Routes anyone may call, auth or not.
fn is_public_route(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/ready" | "/metrics" | "/metrics/resource"
    ) || path.starts_with("/console")
}

fn is_proxy_route(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/anthropic/") || path.starts_with("/v1beta/")
}

/// Request id, load shedding, concurrency cap, timeout (see the module doc).
async fn frame(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    frame_with(&app, req, |mut req, ctx| {
        req.extensions_mut().insert(ctx);
        next.run(req)
    })
    .await
}

/// [`frame`] around `run`, for any request body: the router's layer (which
/// puts the [`RequestCtx`] in the request's extensions), and the chat routes
/// that [`crate::server`] dispatches without the router (which take it as it is).
pub(crate) async fn frame_with<B, F, Fut>(
    app: &Arc<AppState>,
    req: axum::http::Request<B>,
    run: F,
) -> Response
where
    F: FnOnce(axum::http::Request<B>, RequestCtx) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(RequestId::from_client)
        .unwrap_or_else(new_request_id);
    let path = req.uri().path();
    let proxied = is_proxy_route(path) && req.method() != axum::http::Method::GET;
    let protocol = protocol_of(path);
    let mut identity = None;
    if let Some(auth) = &app.auth
        && !is_public_route(path)
    {
        let denied = match crate::auth::presented_key(req.headers(), req.uri()) {
            None => Err(crate::auth::Denied::Missing),
            Some(key) => auth.authenticate(key).await,
        };
        match denied {
            Ok(id) => identity = Some(id),
            Err(d) => {
                let status = if d == crate::auth::Denied::Unavailable {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                };
                let mut resp = ApiError::new(protocol, status, d.message()).into_response();
                resp.headers_mut().insert(X_REQUEST_ID, request_id.header());
                return resp;
            }
        }
    }
    let mut resp = if proxied {
        if app.shedding.load(Ordering::Relaxed) {
            ApiError::new(
                protocol,
                StatusCode::SERVICE_UNAVAILABLE,
                "the gateway is over its memory limit; retry shortly",
            )
            .with_retry_after(1)
            .into_response()
        } else if crate::accounting::queued() >= crate::accounting::MAX_QUEUED {
            // The store has been away long enough to fill the ledger backlog:
            // refuse new work rather than serve requests that could not be recorded.
            ApiError::new(
                protocol,
                StatusCode::SERVICE_UNAVAILABLE,
                "the usage ledger cannot be written right now; retry shortly",
            )
            .with_retry_after(5)
            .into_response()
        } else {
            let permit = match &app.concurrency {
                None => Ok(None),
                Some(sem) => sem.clone().try_acquire_owned().map(|p| Some(Arc::new(p))),
            };
            match permit {
                Err(_) => ApiError::new(
                    protocol,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the gateway is at its concurrency limit; retry shortly",
                )
                .with_retry_after(1)
                .into_response(),
                Ok(permit) => {
                    let ctx = RequestCtx {
                        request_id: request_id.clone(),
                        started,
                        permit,
                        identity: identity.clone(),
                    };
                    crate::metrics::IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
                    let r =
                        tokio::time::timeout(app.settings.server.request_timeout, run(req, ctx))
                            .await;
                    crate::metrics::IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
                    r.unwrap_or_else(|_| {
                        ApiError::new(
                            protocol,
                            StatusCode::GATEWAY_TIMEOUT,
                            "the request took longer than server.request_timeout",
                        )
                        .into_response()
                    })
                }
            }
        }
    } else {
        let ctx = RequestCtx {
            request_id: request_id.clone(),
            started,
            permit: None,
            identity,
        };
        run(req, ctx).await
    };
    resp.headers_mut().insert(X_REQUEST_ID, request_id.header());
    resp
}

/// The router with every route and [`frame`].
pub fn router(app: Arc<AppState>) -> Router {
    let mut router = Router::new();
    if app.settings.server.console {
        router = router
            .route("/console", get(crate::console::redirect))
            .route("/console/", get(crate::console::serve))
            .route("/console/{*path}", get(crate::console::serve));
    }
    // The chat routes (POST served by crate::server before the router; the
    // router answers their other methods).
    for &(path, protocol) in routes::CHAT_ROUTES {
        router = router.route(
            path,
            post(
                move |State(app): State<Arc<AppState>>,
                      Extension(ctx): Extension<RequestCtx>,
                      req: Request| { routes::chat(app, ctx, req, protocol) },
            ),
        );
    }
    router
        .route("/v1/embeddings", post(routes::embeddings))
        .route("/v1/models", get(routes::models))
        .route("/v1beta/models", get(crate::gemini::models))
        .route(
            "/v1beta/models/{target}",
            get(crate::gemini::model).post(crate::gemini::action),
        )
        .route("/v1/responses", post(crate::responses::create))
        .route(
            "/v1/responses/{id}",
            get(crate::responses::get).delete(crate::responses::delete),
        )
        .route("/v1/messages/count_tokens", post(routes::count_tokens))
        .route(
            "/anthropic/v1/messages/count_tokens",
            post(routes::count_tokens),
        )
        .route("/api/v1/me", get(crate::admin::me))
        .route("/api/v1/usage", get(crate::admin::my_usage))
        .route("/api/v1/requests", get(crate::admin::my_requests))
        .route("/api/v1/admin/usage", get(crate::admin::usage))
        .route("/api/v1/admin/requests", get(crate::admin::requests))
        .route("/api/v1/admin/providers", get(crate::admin::providers))
        .route(
            "/api/v1/admin/users",
            get(crate::admin::list_users).post(crate::admin::create_user),
        )
        .route(
            "/api/v1/admin/users/{name}",
            axum::routing::delete(crate::admin::delete_user),
        )
        .route(
            "/api/v1/admin/keys",
            get(crate::admin::list_keys).post(crate::admin::create_key),
        )
        .route(
            "/api/v1/admin/keys/{id}",
            axum::routing::delete(crate::admin::revoke_key),
        )
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/metrics/resource", get(routes::resource))
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), frame))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_sort_by_time() {
        let a = new_request_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_request_id();
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.starts_with("req_"), "{id}");
            assert!(id[4..].bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
            assert_eq!(id.header().to_str().unwrap(), &**id);
        }
        assert!(*b > *a, "{b} sorts after {a}");
        assert_ne!(new_request_id().to_string(), new_request_id().to_string());
        let ms = u64::from_str_radix(&a[4..16], 16).unwrap();
        assert!(
            ms.abs_diff(now_millis()) < 60_000,
            "the first 12 digits are the time"
        );
    }

    #[test]
    fn client_request_ids_are_kept_when_they_can_be_echoed() {
        let ok = HeaderValue::from_static("client-id-1");
        assert_eq!(&*RequestId::from_client(&ok).unwrap(), "client-id-1");
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_bytes("é".as_bytes()).unwrap(),
            HeaderValue::from_str(&"x".repeat(129)).unwrap(),
        ] {
            assert!(RequestId::from_client(&bad).is_none(), "{bad:?}");
        }
    }
}
