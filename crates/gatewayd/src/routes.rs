//! Route handlers. Chat requests go to [`crate::proxy`]; the rest answer here.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::accounting::RecordGuard;
use crate::app::{AppState, RequestCtx, protocol_of};
use crate::error::{ApiError, Protocol};
use crate::upstream::{Operation, loopback};

/// Reads a body within `server.max_body_bytes`, else 413 in the client's protocol.
pub(crate) async fn read_body<B>(
    app: &AppState,
    protocol: Protocol,
    body: B,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = usize::try_from(app.settings.server.max_body_bytes).unwrap_or(usize::MAX);
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit)).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            protocol,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than server.max_body_bytes ({limit} bytes)"),
        )),
        Err(e) => Err(ApiError::bad_request(
            protocol,
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// The chat routes and the protocol each speaks: served by [`chat`], and
/// registered on the router from this one list.
pub(crate) const CHAT_ROUTES: &[(&str, Protocol)] = &[
    ("/v1/chat/completions", Protocol::OpenAi),
    ("/v1/messages", Protocol::Anthropic),
    ("/anthropic/v1/messages", Protocol::Anthropic),
];

/// The protocol of a chat route, which [`chat`] serves.
pub(crate) fn chat_route(path: &str) -> Option<Protocol> {
    CHAT_ROUTES
        .iter()
        .find_map(|&(p, protocol)| (p == path).then_some(protocol))
}

/// `POST` on a chat route, within the request's frame.
pub(crate) async fn chat<B>(
    app: Arc<AppState>,
    ctx: RequestCtx,
    req: Request<B>,
    protocol: Protocol,
) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    match read_body(&app, protocol, body).await {
        Ok(b) => crate::proxy::chat(app, ctx, protocol, parts.headers, b).await,
        Err(e) => e.into_response(),
    }
}

/// `POST /v1/embeddings`: forwarded to the model's OpenAI-type providers.
pub async fn embeddings(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut guard = RecordGuard::new(
        app.sink.clone(),
        ctx.request_id.clone(),
        "/v1/embeddings",
        "",
        ctx.started,
        ctx.permit.clone(),
    );
    guard.set_identity(ctx.identity.as_deref());
    match embeddings_inner(&app, &ctx, &headers, body, &mut guard).await {
        Ok(r) => {
            guard.finish(200, None);
            r
        }
        Err(e) => {
            guard.finish(e.status.as_u16(), Some(e.kind()));
            e.into_response()
        }
    }
}

async fn embeddings_inner(
    app: &AppState,
    ctx: &RequestCtx,
    headers: &HeaderMap,
    body: Body,
    guard: &mut RecordGuard,
) -> Result<Response, ApiError> {
    let p = Protocol::OpenAi;
    let bytes = read_body(app, p, body).await?;
    #[derive(serde::Deserialize)]
    struct Peek {
        model: Option<String>,
    }
    let model = match serde_json::from_slice::<Peek>(&bytes) {
        Ok(Peek { model: Some(m) }) if !m.is_empty() => m,
        Ok(_) => return Err(ApiError::bad_request(p, "`model` is required").with_param("model")),
        Err(e) => {
            return Err(ApiError::bad_request(
                p,
                format!("request body is not valid JSON: {e}"),
            ));
        }
    };
    guard.set_requested_model(&model);
    // The same checks as chat requests: model globs, rate limits, budget.
    crate::proxy::admit(app, ctx, p, &model).await?;
    let target = crate::routing::resolve(&app.settings, &model).ok_or_else(|| {
        ApiError::new(
            p,
            StatusCode::NOT_FOUND,
            format!("model `{model}` is not served by this gateway"),
        )
    })?;
    let mut last_failure = None;
    for &i in &target.providers {
        let up = &app.upstreams[i];
        if up.protocol() != Some(Protocol::OpenAi) {
            continue;
        }
        let name = up.settings.name.as_str();
        guard.set_target(name, target.upstream_model, None);
        let sent = crate::proxy::attempts(up, &ctx.request_id, || {
            up.send(Operation::Embeddings, bytes.clone(), headers)
        })
        .await;
        match sent {
            Ok(resp) => {
                let b = resp.bytes().await.map_err(|e| {
                    ApiError::new(
                        p,
                        StatusCode::BAD_GATEWAY,
                        format!("provider `{name}` broke off its response: {e}"),
                    )
                })?;
                let usage: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                let tokens = usage
                    .pointer("/usage/prompt_tokens")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                guard.set_usage(tokens, 0);
                guard.first_byte();
                let mut r = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    b,
                )
                    .into_response();
                if let Ok(v) = name.parse() {
                    r.headers_mut().insert("x-gateway-provider", v);
                }
                return Ok(r);
            }
            Err(f) => {
                let retry = f.retryable();
                last_failure = Some((name.to_owned(), f));
                if !retry {
                    break;
                }
            }
        }
    }
    if last_failure.is_some() {
        return Err(crate::proxy::failure_to_error(p, last_failure));
    }
    Err(ApiError::bad_request(
        p,
        format!("model `{model}` has no OpenAI-type provider for embeddings"),
    ))
}

/// `GET /v1/models`.
pub async fn models(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let data: Vec<_> = crate::routing::advertised_models(&app.settings)
        .into_iter()
        .map(|(id, owner)| json!({"id": id, "object": "model", "created": 0, "owned_by": owner}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `POST /v1/messages/count_tokens`: a local estimate (one token per four characters).
pub async fn count_tokens(State(app): State<Arc<AppState>>, body: Body) -> Response {
    let p = Protocol::Anthropic;
    let bytes = match read_body(&app, p, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) => {
            return ApiError::bad_request(p, "request body must be a JSON object").into_response();
        }
        Err(e) => {
            return ApiError::bad_request(p, format!("request body is not valid JSON: {e}"))
                .into_response();
        }
    };
    if v.get("messages").and_then(|m| m.as_array()).is_none() {
        return ApiError::bad_request(p, "`messages` is required and must be an array")
            .into_response();
    }
    Json(json!({ "input_tokens": loopback::request_tokens(&v) })).into_response()
}

/// `GET /health`: liveness.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": tokgateway_core::VERSION}))
}

/// `GET /ready`: 200 when a provider is configured (and, with the ledger, the store answers).
pub async fn ready(State(app): State<Arc<AppState>>) -> Response {
    let mut reasons: Vec<String> = Vec::new();
    if app.upstreams.is_empty() {
        reasons.push("no provider is configured".to_owned());
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => reasons.push(format!("the store does not answer: {e}")),
        Err(_) => reasons.push("the store does not answer within 2 s".to_owned()),
    }
    if !app
        .ledger_healthy
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        reasons.push("ledger writes are failing; rows are kept and retried".to_owned());
    }
    if app.shedding.load(std::sync::atomic::Ordering::Relaxed) {
        reasons.push("memory is above the shedding threshold".to_owned());
    }
    if reasons.is_empty() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        let mut r = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reasons": reasons})),
        )
            .into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        r
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(crate::accounting::queued()),
    )
        .into_response()
}

/// `GET /metrics/resource`.
pub async fn resource(State(app): State<Arc<AppState>>) -> Response {
    let app2 = app.clone();
    // Sampling reads /proc (and NVML): keep it off the async workers.
    match tokio::task::spawn_blocking(move || app2.monitor.lock().map(|mut m| m.sample()).ok())
        .await
    {
        Ok(Some(sample)) => Json(sample).into_response(),
        _ => ApiError::new(
            Protocol::OpenAi,
            StatusCode::INTERNAL_SERVER_ERROR,
            "resource sampling failed",
        )
        .into_response(),
    }
}

/// Unknown routes: 404 in the protocol the path suggests.
pub async fn not_found(req: Request) -> Response {
    let path = req.uri().path().to_owned();
    ApiError::new(
        protocol_of(&path),
        StatusCode::NOT_FOUND,
        format!("no route for {} {path}", req.method()),
    )
    .into_response()
}
