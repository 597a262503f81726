//! The proxy path for chat requests (OpenAI `/v1/chat/completions` and
//! Anthropic `/v1/messages`), top to bottom:
//!
//! 1. peek at the body (`model`, `stream`) without building a document tree;
//! 2. resolve the model to a provider chain and apply `routing.work_mode`;
//! 3. try each provider (with its retries) until one answers 2xx — fallback on
//!    connect errors, timeouts, 429 and 5xx, before any byte reached the client;
//! 4. answer: the upstream's bytes as they are (same protocol), or the loopback
//!    model's reply; streams are forwarded event by event while their usage is read;
//! 5. account: a [`RecordGuard`] emits one usage record however the request ends.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use tokgateway_core::config::settings::glob_match;
use tokgateway_core::config::settings::{ProviderKind, WorkMode};

use crate::accounting::RecordGuard;
use crate::app::{AppState, RequestCtx};
use crate::error::{ApiError, Protocol};
use crate::sse;
use crate::upstream::{self, Failure, Operation, Upstream, loopback};
use tokgateway_protocol::{gemini, translate};

/// The few fields read before routing.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    stream: Option<bool>,
    stream_options: Option<PeekStreamOptions>,
}

#[derive(Deserialize)]
struct PeekStreamOptions {
    include_usage: Option<bool>,
}

/// The usage fields of either protocol's response or stream event.
#[derive(Deserialize, Default)]
struct UsagePeek {
    usage: Option<Usage>,
    message: Option<MessagePeek>,
    /// Responses API stream events carry it in `response.usage`.
    response: Option<MessagePeek>,
    choices: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
struct MessagePeek {
    usage: Option<Usage>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

/// The endpoint label of a protocol's chat route.
pub const fn endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAi => "/v1/chat/completions",
        Protocol::Anthropic => "/v1/messages",
        Protocol::Gemini => "/v1beta/models:generateContent",
    }
}

/// Now, in Unix seconds (the `created` of translated answers).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serves one chat request.
pub async fn chat(
    app: Arc<AppState>,
    ctx: RequestCtx,
    protocol: Protocol,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    chat_for(app, ctx, protocol, endpoint(protocol), headers, body).await
}

/// [`chat`] on behalf of another endpoint (`/v1/responses` runs its requests
/// through here as Chat Completions); `endpoint` labels the ledger row.
pub async fn chat_for(
    app: Arc<AppState>,
    ctx: RequestCtx,
    protocol: Protocol,
    endpoint: &'static str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The record exists from the start, so requests refused before they are
    // routed (bad body, model not allowed, rate limited, unknown model) are in
    // the ledger too, with their status.
    let mut guard = RecordGuard::new(
        app.sink.clone(),
        ctx.request_id.clone(),
        endpoint,
        "",
        ctx.started,
        ctx.permit.clone(),
    );
    guard.set_identity(ctx.identity.as_deref());
    let mut slot = Some(guard);
    match chat_inner(app, ctx, protocol, &headers, body, &mut slot).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(g) = slot.take() {
                g.finish(e.status.as_u16(), Some(e.kind()));
            }
            e.into_response()
        }
    }
}

async fn chat_inner(
    app: Arc<AppState>,
    ctx: RequestCtx,
    protocol: Protocol,
    headers: &HeaderMap,
    body: Bytes,
    slot: &mut Option<RecordGuard>,
) -> Result<Response, ApiError> {
    let peek: Peek<'_> = serde_json::from_slice(&body).map_err(|e| {
        let msg = if e.is_data() {
            format!("invalid request body: {e}")
        } else {
            format!("request body is not valid JSON: {e}")
        };
        ApiError::bad_request(protocol, msg)
    })?;
    let model = match peek.model.as_deref() {
        Some(m) if !m.trim().is_empty() => m.to_owned(),
        _ => return Err(ApiError::bad_request(protocol, "`model` is required").with_param("model")),
    };
    if let Some(g) = slot.as_mut() {
        g.set_requested_model(&model);
    }
    let stream = peek.stream.unwrap_or(false);
    let client_wants_usage = peek
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);

    admit(&app, &ctx, protocol, &model).await?;
    let settings = &app.settings;
    let target = crate::routing::resolve(settings, &model).ok_or_else(|| {
        ApiError::new(
            protocol,
            StatusCode::NOT_FOUND,
            format!("model `{model}` is not served by this gateway"),
        )
        .with_param("model")
    })?;
    let chain: Vec<&Upstream> = target
        .providers
        .iter()
        .map(|&i| &app.upstreams[i])
        .collect();
    let chain = apply_work_mode(settings.work_mode, protocol, chain)?;
    let upstream_model = target.upstream_model.to_owned();

    let Some(mut guard) = slot.take() else {
        return Err(ApiError::new(
            protocol,
            StatusCode::INTERNAL_SERVER_ERROR,
            "request accounting is missing",
        ));
    };
    guard.set_streamed(stream);
    let price = price_of(settings, &upstream_model, &model);

    let mut last_failure: Option<(String, Failure)> = None;
    let mut parsed: Option<Value> = None;
    for up in chain {
        let name = up.settings.name.as_str();
        guard.set_target(name, &upstream_model, price);
        if up.settings.kind == ProviderKind::Loopback {
            up.health.record_ok();
            return Ok(loopback_answer(
                up,
                protocol,
                &body,
                &upstream_model,
                stream,
                client_wants_usage,
                &ctx.request_id,
                guard,
            )
            .await);
        }
        let convert = Convert::between(protocol, up.protocol());
        let (upstream_body, mode) = if convert != Convert::None {
            // Another protocol: parse once, translate, serialize.
            let request = match &parsed {
                Some(v) => v,
                None => parsed.insert(serde_json::from_slice::<Value>(&body).map_err(|e| {
                    ApiError::bad_request(protocol, format!("request body is not valid JSON: {e}"))
                })?),
            };
            let translated = convert.request(request, &upstream_model).map_err(|m| {
                ApiError::bad_request(
                    protocol,
                    format!("cannot translate this request for provider `{name}`: {m}"),
                )
            })?;
            if convert == Convert::GeminiToOpenAi {
                let dropped = gemini::dropped_chat_fields(request);
                if !dropped.is_empty() {
                    tracing::info!(request_id = %ctx.request_id, provider = name, fields = ?dropped, "fields without a Gemini equivalent were dropped");
                }
            }
            let bytes = Bytes::from(serde_json::to_vec(&translated).unwrap_or_default());
            let mode = convert.stream_mode(&model, &ctx.request_id, client_wants_usage);
            (bytes, mode)
        } else {
            // Same protocol: the client's bytes go upstream, changed only where needed.
            let inject_usage = stream && protocol == Protocol::OpenAi && !client_wants_usage;
            let bytes = rewrite_body(&body, &model, &upstream_model, inject_usage)
                .map_err(|m| ApiError::bad_request(protocol, m))?;
            (
                bytes,
                Mode::Pass {
                    strip_usage_chunk: inject_usage,
                },
            )
        };
        let sent = attempts(up, &ctx.request_id, || {
            let body = upstream_body.clone();
            let upstream_model = upstream_model.as_str();
            async move {
                if up.settings.kind == ProviderKind::Gemini {
                    up.send_generate(upstream_model, stream, body, headers)
                        .await
                } else {
                    up.send(Operation::Chat, body, headers).await
                }
            }
        })
        .await;
        match sent {
            Ok(resp) => {
                let r = if stream {
                    stream_through(protocol, up, resp, mode, guard)
                } else {
                    buffered(
                        protocol,
                        up,
                        resp,
                        convert,
                        (&model, &ctx.request_id),
                        guard,
                        app.settings.server.request_timeout,
                    )
                    .await
                };
                return Ok(r);
            }
            Err(f) => last_failure = Some((name.to_owned(), f)),
        }
        if last_failure.as_ref().is_some_and(|(_, f)| !f.retryable()) {
            break;
        }
    }
    let err = failure_to_error(protocol, last_failure);
    guard.finish(err.status.as_u16(), Some(err.kind()));
    Err(err)
}

/// The key's checks before a request is routed: model globs, rate limits, budget.
pub(crate) async fn admit(
    app: &AppState,
    ctx: &RequestCtx,
    protocol: Protocol,
    model: &str,
) -> Result<(), ApiError> {
    if let Some(id) = &ctx.identity
        && !id.allows(model)
    {
        return Err(ApiError::new(
            protocol,
            StatusCode::FORBIDDEN,
            format!("this API key may not use model `{model}`"),
        )
        .with_param("model"));
    }
    if let Some(id) = &ctx.identity {
        let rl = &app.settings.ratelimit;
        if let Err(wait) = app
            .limits
            .admit(
                &id.key_id,
                id.rpm.or(rl.default_rpm),
                id.tpm.or(rl.default_tpm),
            )
            .await
        {
            return Err(ApiError::new(
                protocol,
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded for this API key",
            )
            .with_retry_after(wait));
        }
        if let Some(budget) = id.budget_usd {
            let spent = match app.limits.cached_spend(&id.key_id) {
                Some(s) => s,
                None => {
                    let s = app.store.key_spend_usd(&id.key_id).await.unwrap_or(0.0);
                    app.limits.set_spend(&id.key_id, s);
                    s
                }
            };
            if spent >= budget {
                return Err(ApiError::new(
                    protocol,
                    StatusCode::FORBIDDEN,
                    format!("this API key's budget of {budget} USD is spent"),
                ));
            }
        }
    }
    Ok(())
}

/// USD per million input and output tokens: the first `[prices]` glob that
/// matches the upstream or the requested model.
fn price_of(
    settings: &tokgateway_core::config::settings::Settings,
    upstream_model: &str,
    model: &str,
) -> Option<(f64, f64)> {
    settings
        .prices
        .iter()
        .find(|p| glob_match(&p.glob, upstream_model) || glob_match(&p.glob, model))
        .map(|p| (p.input_per_mtok, p.output_per_mtok))
}

/// Keeps the providers that `work_mode` allows for this client.
fn apply_work_mode(
    mode: WorkMode,
    client: Protocol,
    chain: Vec<&Upstream>,
) -> Result<Vec<&Upstream>, ApiError> {
    let needs_translation = |u: &Upstream| u.protocol().is_some_and(|p| p != client);
    let kept: Vec<&Upstream> = match mode {
        WorkMode::Auto => chain,
        WorkMode::Passthrough => chain
            .into_iter()
            .filter(|u| !needs_translation(u))
            .collect(),
        WorkMode::Translation => chain.into_iter().filter(|u| needs_translation(u)).collect(),
    };
    if !kept.is_empty() {
        return Ok(kept);
    }
    let msg = match mode {
        WorkMode::Passthrough => {
            "this model is served by a provider of the other protocol, and routing.work_mode = passthrough forbids translation"
        }
        WorkMode::Translation => {
            "this model is served in the client's own protocol, and routing.work_mode = translation only serves requests that need translation"
        }
        WorkMode::Auto => "no provider serves this model",
    };
    Err(ApiError::bad_request(client, msg).with_param("model"))
}

/// The upstream body: the client's bytes unless the model is aliased or the
/// stream needs `stream_options.include_usage` for accounting. Unknown fields
/// survive either way.
fn rewrite_body(
    body: &Bytes,
    model: &str,
    upstream_model: &str,
    inject_usage: bool,
) -> Result<Bytes, String> {
    if model == upstream_model && !inject_usage {
        return Ok(body.clone());
    }
    if model == upstream_model
        && let Some(b) = with_usage_requested(body)
    {
        return Ok(b);
    }
    let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| format!("request body must be a JSON object: {e}"))?;
    v.insert("model".to_owned(), upstream_model.into());
    if inject_usage {
        let opts = v
            .entry("stream_options")
            .or_insert_with(|| serde_json::json!({}));
        if !opts.is_object() {
            // `null` (or anything but an object) would ask for nothing.
            *opts = serde_json::json!({});
        }
        if let Some(o) = opts.as_object_mut() {
            o.insert("include_usage".to_owned(), true.into());
        }
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// The body with `"stream_options":{"include_usage":true}` added as its
/// first member, without parsing it, when it is an object that names no
/// `stream_options` at all (else the caller rewrites it in full).
fn with_usage_requested(body: &[u8]) -> Option<Bytes> {
    const MEMBER: &[u8] = br#""stream_options":{"include_usage":true}"#;
    // Made once: making a searcher costs more than searching a body with it.
    static NAMED: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\"stream_options\""));
    if NAMED.find(body).is_some() {
        return None;
    }
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[open] != b'{' {
        return None;
    }
    let empty = body[open + 1..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'}');
    let mut out = Vec::with_capacity(body.len() + MEMBER.len() + 1);
    out.extend_from_slice(&body[..=open]);
    out.extend_from_slice(MEMBER);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&body[open + 1..]);
    Some(Bytes::from(out))
}

pub(crate) fn failure_to_error(protocol: Protocol, last: Option<(String, Failure)>) -> ApiError {
    let Some((provider, f)) = last else {
        return ApiError::new(
            protocol,
            StatusCode::BAD_GATEWAY,
            "no provider could serve this request",
        );
    };
    match f {
        Failure::Connect(m) => ApiError::new(
            protocol,
            StatusCode::BAD_GATEWAY,
            format!("provider `{provider}` is unreachable: {m}"),
        ),
        Failure::Timeout => ApiError::new(
            protocol,
            StatusCode::GATEWAY_TIMEOUT,
            format!("provider `{provider}` did not answer in time"),
        ),
        Failure::Status {
            status,
            body,
            retry_after,
        } => {
            let msg = upstream::error_message(&body)
                .unwrap_or_else(|| format!("provider `{provider}` answered HTTP {status}"));
            match status {
                429 => {
                    let secs = retry_after
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    ApiError::new(protocol, StatusCode::TOO_MANY_REQUESTS, msg)
                        .with_retry_after(secs)
                }
                s if s >= 500 => ApiError::new(protocol, StatusCode::BAD_GATEWAY, msg),
                s => ApiError::new(
                    protocol,
                    StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                    msg,
                ),
            }
        }
    }
}

/// `x-gateway-provider`, on responses an upstream served.
const X_GATEWAY_PROVIDER: header::HeaderName =
    header::HeaderName::from_static("x-gateway-provider");

fn json_response(status: StatusCode, body: impl Into<Body>, provider: &Upstream) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(X_GATEWAY_PROVIDER, provider.name_header.clone());
    resp
}

fn sse_response(body: Body, provider: &Upstream) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_GATEWAY_PROVIDER, provider.name_header.clone());
    resp
}

fn tokens(u: Usage) -> (u64, u64) {
    (
        u.prompt_tokens.or(u.input_tokens).unwrap_or(0),
        u.completion_tokens.or(u.output_tokens).unwrap_or(0),
    )
}

/// A non-streamed upstream answer: forwarded as it is, or converted to the
/// client's protocol. `(model, request_id)` name a converted answer.
#[allow(clippy::too_many_arguments)]
async fn buffered(
    protocol: Protocol,
    up: &Upstream,
    resp: upstream::Response,
    convert: Convert,
    (model, request_id): (&str, &str),
    mut guard: RecordGuard,
    timeout: Duration,
) -> Response {
    let provider = up.settings.name.as_str();
    let body = match tokio::time::timeout(timeout, resp.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let e = ApiError::new(
                protocol,
                StatusCode::BAD_GATEWAY,
                format!("provider `{provider}` broke off its response"),
            );
            guard.finish(502, Some(e.kind()));
            return e.into_response();
        }
        Err(_) => {
            let e = ApiError::new(
                protocol,
                StatusCode::GATEWAY_TIMEOUT,
                format!("provider `{provider}` did not finish its response in time"),
            );
            guard.finish(504, Some(e.kind()));
            return e.into_response();
        }
    };
    let body = if convert != Convert::None {
        let Ok(upstream) = serde_json::from_slice::<Value>(&body) else {
            let e = ApiError::new(
                protocol,
                StatusCode::BAD_GATEWAY,
                format!("provider `{provider}` answered with invalid JSON"),
            );
            guard.finish(502, Some(e.kind()));
            return e.into_response();
        };
        Bytes::from(convert.response(&upstream, model, request_id).to_string())
    } else {
        body
    };
    if let Some(usage) = response_usage(&body) {
        let (i, o) = tokens(usage);
        guard.set_usage(i, o);
    }
    guard.first_byte();
    guard.finish_committed(200, None).await;
    json_response(StatusCode::OK, body, up)
}

/// The top-level `usage` of a JSON object, read from its end where both
/// APIs put it: `Ok(None)` when absent, `null` or not a usage object;
/// `Err` when that reading cannot tell (parse the whole text instead).
fn usage_member(json: &[u8]) -> Result<Option<Usage>, tokgateway_protocol::json::Unread> {
    Ok(tokgateway_protocol::json::last_member(json, "usage")?
        .and_then(|raw| serde_json::from_slice::<Option<Usage>>(raw).ok().flatten()))
}

/// The usage of a whole (non-streamed) response in either protocol, read
/// without parsing the answer before it. `None`: not JSON, or no usage.
fn response_usage(body: &[u8]) -> Option<Usage> {
    usage_member(body).unwrap_or_else(|_| serde_json::from_slice::<UsagePeek>(body).ok()?.usage)
}

/// The searches for what a same-protocol stream event must name to matter
/// to accounting: usage, or the end of the stream in `protocol` (made once).
fn matters_finders(protocol: Protocol) -> &'static [memchr::memmem::Finder<'static>; 2] {
    static OPENAI: LazyLock<[memchr::memmem::Finder<'static>; 2]> =
        LazyLock::new(|| [b"usage".as_slice(), b"[DONE]"].map(memchr::memmem::Finder::new));
    static ANTHROPIC: LazyLock<[memchr::memmem::Finder<'static>; 2]> =
        LazyLock::new(|| [b"usage".as_slice(), b"message_stop"].map(memchr::memmem::Finder::new));
    match protocol {
        // Gemini clients are served through the OpenAI chat path.
        Protocol::OpenAi | Protocol::Gemini => &OPENAI,
        Protocol::Anthropic => &ANTHROPIC,
    }
}

/// Whether raw stream bytes name what may matter: any of [`marks`].
fn may_matter(protocol: Protocol, raw: &[u8]) -> bool {
    names(protocol, raw).next().is_some()
}

/// Where `raw` names what may matter, by start: one search of a chunk per
/// name, however many events it holds. A `"usage":null` member (which OpenAI
/// streams asked for usage put in every chunk before the one carrying it)
/// holds no tokens and is no mark: those events pass without being read.
fn marks(protocol: Protocol, raw: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut marks: Vec<_> = names(protocol, raw).collect();
    marks.sort_unstable_by_key(|m| m.start);
    marks
}

/// The marks of [`marks`], name by name.
fn names<'a>(
    protocol: Protocol,
    raw: &'a [u8],
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    matters_finders(protocol)
        .iter()
        .flat_map(move |f| f.find_iter(raw).map(|at| at..at + f.needle().len()))
        .filter(move |m| !null_usage(raw, m))
}

/// Whether the mark `m` in `raw` is the name of a `"usage": null` member.
fn null_usage(raw: &[u8], m: &std::ops::Range<usize>) -> bool {
    let value = |rest: &[u8]| {
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|v| v.trim_ascii_start().starts_with(b"null"))
    };
    &raw[m.clone()] == b"usage"
        && m.start > 0
        && raw[m.start - 1] == b'"'
        && raw[m.end..].strip_prefix(b"\"").is_some_and(value)
}

/// An OpenAI stream chunk's usage, and whether the chunk has no choices (the
/// usage-only chunk), read from its end like [`response_usage`]. `None`: no
/// usage — absent, or `null` as in every chunk before the one carrying it
/// when a stream asks for usage (gatewayd always asks).
fn chunk_usage(data: &str) -> Option<(Usage, bool)> {
    let json = data.as_bytes();
    let whole = || {
        let p = serde_json::from_str::<UsagePeek>(data).ok()?;
        Some((p.usage?, p.choices.is_none_or(|c| c.is_empty())))
    };
    let Ok(usage) = usage_member(json) else {
        return whole();
    };
    let usage = usage?;
    let choices = match tokgateway_protocol::json::last_member(json, "choices") {
        Ok(Some(raw)) => serde_json::from_slice::<Option<Vec<IgnoredAny>>>(raw).ok()?,
        Ok(None) => None,
        Err(_) => return whole(),
    };
    Some((usage, choices.is_none_or(|c| c.is_empty())))
}

/// How a stream's events reach the client.
enum Mode {
    /// Same protocol: forwarded as they are. `strip_usage_chunk`: the client
    /// did not ask for the usage chunk we asked upstream for.
    Pass { strip_usage_chunk: bool },
    /// Anthropic upstream, OpenAI client.
    AnthropicToOpenAi(Box<translate::AnthropicToOpenAi>),
    /// OpenAI upstream, Anthropic client.
    OpenAiToAnthropic(Box<translate::OpenAiToAnthropic>),
    /// OpenAI Responses events, forwarded as they are.
    Responses { events: u64 },
    /// Gemini upstream, OpenAI client.
    GeminiToOpenAi(Box<gemini::GeminiToChatStream>),
    /// Gemini upstream, Anthropic client: through chat chunks.
    GeminiToAnthropic(Box<(gemini::GeminiToChatStream, translate::OpenAiToAnthropic)>),
}

/// How an upstream's answer reaches a client of another protocol (named
/// upstream → client, like [`Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convert {
    None,
    AnthropicToOpenAi,
    OpenAiToAnthropic,
    GeminiToOpenAi,
    GeminiToAnthropic,
}

impl Convert {
    /// For a client of `client` and an upstream speaking `upstream` (`None`: loopback).
    fn between(client: Protocol, upstream: Option<Protocol>) -> Self {
        match (client, upstream) {
            (Protocol::OpenAi, Some(Protocol::Anthropic)) => Self::AnthropicToOpenAi,
            (Protocol::Anthropic, Some(Protocol::OpenAi)) => Self::OpenAiToAnthropic,
            (Protocol::OpenAi, Some(Protocol::Gemini)) => Self::GeminiToOpenAi,
            (Protocol::Anthropic, Some(Protocol::Gemini)) => Self::GeminiToAnthropic,
            // Gemini clients reach the chat path as OpenAI clients (crate::gemini).
            _ => Self::None,
        }
    }

    /// The client's request in the upstream's protocol.
    fn request(self, req: &Value, upstream_model: &str) -> Result<Value, String> {
        match self {
            Self::None => Ok(req.clone()),
            Self::AnthropicToOpenAi => translate::openai_to_anthropic_request(req, upstream_model),
            Self::OpenAiToAnthropic => translate::anthropic_to_openai_request(req, upstream_model),
            Self::GeminiToOpenAi => gemini::chat_to_gemini_request(req),
            Self::GeminiToAnthropic => gemini::chat_to_gemini_request(
                &translate::anthropic_to_openai_request(req, upstream_model)?,
            ),
        }
    }

    /// A non-streamed upstream answer in the client's protocol.
    fn response(self, resp: &Value, model: &str, request_id: &str) -> Value {
        match self {
            Self::None => resp.clone(),
            Self::AnthropicToOpenAi => translate::anthropic_to_openai_response(resp, unix_now()),
            Self::OpenAiToAnthropic => translate::openai_to_anthropic_response(resp),
            Self::GeminiToOpenAi => gemini::gemini_to_chat_response(
                resp,
                model,
                &format!("chatcmpl-{request_id}"),
                unix_now(),
            ),
            Self::GeminiToAnthropic => {
                translate::openai_to_anthropic_response(&gemini::gemini_to_chat_response(
                    resp,
                    model,
                    &format!("chatcmpl-{request_id}"),
                    unix_now(),
                ))
            }
        }
    }

    /// The stream state for this conversion.
    fn stream_mode(self, model: &str, request_id: &str, include_usage: bool) -> Mode {
        let id = format!("chatcmpl-{request_id}");
        match self {
            Self::None => Mode::Pass {
                strip_usage_chunk: false,
            },
            Self::AnthropicToOpenAi => Mode::AnthropicToOpenAi(Box::new(
                translate::AnthropicToOpenAi::new(model, unix_now(), include_usage),
            )),
            Self::OpenAiToAnthropic => {
                Mode::OpenAiToAnthropic(Box::new(translate::OpenAiToAnthropic::new(model)))
            }
            Self::GeminiToOpenAi => Mode::GeminiToOpenAi(Box::new(
                gemini::GeminiToChatStream::new(model, &id, unix_now(), include_usage),
            )),
            Self::GeminiToAnthropic => Mode::GeminiToAnthropic(Box::new((
                gemini::GeminiToChatStream::new(model, &id, unix_now(), true),
                translate::OpenAiToAnthropic::new(model),
            ))),
        }
    }
}

/// State of a stream from an upstream to the client.
struct Passthrough {
    upstream: futures_util::stream::BoxStream<'static, Result<Bytes, upstream::BodyError>>,
    decoder: sse::Decoder,
    protocol: Protocol,
    mode: Mode,
    usage: (u64, u64),
    terminated: bool,
    /// A Responses stream that ended with `response.failed`.
    failed: bool,
    finished: bool,
    guard: Option<RecordGuard>,
    /// Same protocol: the start of an event whose end has not arrived yet.
    held: BytesMut,
}

impl Passthrough {
    /// Same protocol: the upstream's own bytes, as far as they hold whole
    /// events — without a copy, unless an event is dropped (the usage chunk
    /// the client did not ask for) or began in an earlier chunk. The bytes of
    /// an incomplete event wait for the rest of it. `marks`: where `chunk`
    /// names what may matter to accounting (usage, the end of the stream);
    /// `cuts`: where events end in `chunk` — at least the first and the last
    /// end, and both ends of each event holding a mark. Only the events
    /// holding a mark are decoded.
    fn pass(&mut self, chunk: &Bytes, cuts: &[usize], marks: &[std::ops::Range<usize>]) -> Bytes {
        let mut next_mark = 0;
        let mut out = BytesMut::new();
        // While true, what the client gets is `chunk[..last]`.
        let mut zero_copy = true;
        let mut last = 0;
        for &end in cuts {
            let part = &chunk[last..end];
            // An event begun in an earlier chunk is completed after its start.
            let mut begun = std::mem::take(&mut self.held);
            let in_this_chunk = begun.is_empty();
            let event: &[u8] = if in_this_chunk {
                part
            } else {
                begun.extend_from_slice(part);
                &begun
            };
            let matters = if in_this_chunk {
                // The marks wholly inside `last..end` (an event begun in an
                // earlier chunk is searched whole instead).
                while marks.get(next_mark).is_some_and(|m| m.start < last) {
                    next_mark += 1;
                }
                marks[next_mark..]
                    .iter()
                    .take_while(|m| m.start < end)
                    .any(|m| m.end <= end)
            } else {
                may_matter(self.protocol, event)
            };
            let keep = !matters || self.inspect_events(event);
            if keep && in_this_chunk && zero_copy {
                last = end;
                continue;
            }
            if zero_copy {
                // What the client gets is at most the chunk and the start of
                // an event begun before it: room made once.
                out.reserve(chunk.len() + begun.len());
                out.extend_from_slice(&chunk[..last]);
                zero_copy = false;
            }
            if keep {
                out.extend_from_slice(event);
            }
            last = end;
        }
        self.held.extend_from_slice(&chunk[last..]);
        if zero_copy {
            chunk.slice(..last)
        } else {
            out.freeze()
        }
    }

    /// [`Passthrough::inspect`] for the raw bytes of one event (or a block of
    /// comments): whether the client gets them.
    fn inspect_events(&mut self, raw: &[u8]) -> bool {
        if let Some((_, data)) = sse::plain_event(raw) {
            return self.inspect(data);
        }
        let mut keep = true;
        for ev in sse::Decoder::default().feed(raw) {
            keep &= self.inspect(&ev.data);
        }
        keep
    }

    /// Handles one upstream event: appends what the client gets to `out`.
    fn event(&mut self, event: Option<&str>, data: &str, out: &mut BytesMut) {
        let mut translated = Vec::new();
        match &mut self.mode {
            Mode::Pass { .. } => {
                if self.inspect(data) {
                    sse::encode(out, event, data);
                }
                return;
            }
            Mode::Responses { events } => {
                *events += 1;
                if let Some(kind) = responses_terminal(data) {
                    self.terminated = true;
                    if let Ok(p) = serde_json::from_str::<UsagePeek>(data)
                        && let Some(u) = p.response.and_then(|r| r.usage)
                    {
                        self.usage = tokens(u);
                    }
                    self.failed = kind == "response.failed";
                }
                sse::encode(out, event, data);
                return;
            }
            Mode::AnthropicToOpenAi(t) => {
                t.push(data, &mut translated);
                self.usage = t.usage;
                self.terminated = t.done;
            }
            Mode::OpenAiToAnthropic(t) => {
                t.push(data, &mut translated);
                self.usage = t.usage;
                self.terminated = t.done;
            }
            Mode::GeminiToOpenAi(t) => {
                t.push(data, &mut translated);
                self.usage = t.usage;
                self.terminated = t.done;
            }
            Mode::GeminiToAnthropic(b) => {
                let (g, a) = &mut **b;
                let mut chunks = Vec::new();
                g.push(data, &mut chunks);
                for (_, chunk) in chunks {
                    a.push(&chunk, &mut translated);
                }
                self.usage = g.usage;
                self.terminated = a.done;
            }
        }
        for (name, data) in translated {
            sse::encode(out, name, &data);
        }
    }

    /// At the end of the upstream stream: closes a translated stream whose
    /// upstream said how it ended but sent no terminator.
    fn end(&mut self, out: &mut BytesMut) {
        let mut translated = Vec::new();
        match &mut self.mode {
            Mode::OpenAiToAnthropic(t) if !t.done && t.finished_upstream() => {
                t.finish(&mut translated);
                self.usage = t.usage;
                self.terminated = true;
            }
            // Gemini streams have no terminator: they end after the chunk
            // that says how the answer finished.
            Mode::GeminiToOpenAi(t) if !t.done && t.finished_upstream() => {
                t.finish(&mut translated);
                self.usage = t.usage;
                self.terminated = true;
            }
            Mode::GeminiToAnthropic(b) if !b.1.done && b.0.finished_upstream() => {
                let (g, a) = &mut **b;
                let mut chunks = Vec::new();
                g.finish(&mut chunks);
                for (_, chunk) in chunks {
                    a.push(&chunk, &mut translated);
                }
                if !a.done {
                    a.finish(&mut translated);
                }
                self.usage = g.usage;
                self.terminated = true;
            }
            _ => {}
        }
        for (name, data) in translated {
            sse::encode(out, name, &data);
        }
    }

    /// Reads usage from a same-protocol event and decides whether the client gets it.
    fn inspect(&mut self, data: &str) -> bool {
        let strip_usage_chunk = matches!(
            self.mode,
            Mode::Pass {
                strip_usage_chunk: true
            }
        );
        match self.protocol {
            Protocol::OpenAi | Protocol::Gemini => {
                if data == "[DONE]" {
                    self.terminated = true;
                    return true;
                }
                if let Some((u, no_choices)) = chunk_usage(data) {
                    self.usage = tokens(u);
                    if strip_usage_chunk && no_choices {
                        return false;
                    }
                }
                true
            }
            Protocol::Anthropic => {
                if data.contains("\"message_stop\"") {
                    self.terminated = true;
                } else if data.contains("\"usage\"")
                    && let Ok(p) = serde_json::from_str::<UsagePeek>(data)
                {
                    if let Some(u) = p.message.and_then(|m| m.usage) {
                        let (i, o) = tokens(u);
                        self.usage = (i, o.max(self.usage.1));
                    }
                    if let Some(u) = p.usage {
                        let (i, o) = tokens(u);
                        self.usage = (if i > 0 { i } else { self.usage.0 }, o);
                    }
                }
                true
            }
        }
    }

    /// Ends a successful stream; with sync durability, after its row is committed.
    async fn finish_committed(&mut self) {
        self.finished = true;
        if let Some(mut g) = self.guard.take() {
            g.set_usage(self.usage.0, self.usage.1);
            g.finish_committed(200, None).await;
        }
    }

    fn finish(&mut self, status: u16, error: Option<&'static str>) {
        self.finished = true;
        if let Some(mut g) = self.guard.take() {
            g.set_usage(self.usage.0, self.usage.1);
            g.finish(status, error);
        }
    }
}

fn stream_through(
    protocol: Protocol,
    up: &Upstream,
    resp: upstream::Response,
    mode: Mode,
    guard: RecordGuard,
) -> Response {
    // Boxed: `unfold` moves its state in and out of its future at every
    // chunk, and a pointer moves cheaper than the state.
    let state = Box::new(Passthrough {
        upstream: resp.bytes_stream().boxed(),
        decoder: sse::Decoder::default(),
        protocol,
        mode,
        usage: (0, 0),
        terminated: false,
        failed: false,
        finished: false,
        guard: Some(guard),
        held: BytesMut::new(),
    });
    let body = futures_util::stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        loop {
            match st.upstream.next().await {
                Some(Ok(chunk)) => {
                    let out = if matches!(st.mode, Mode::Pass { .. }) {
                        let marks = marks(st.protocol, &chunk);
                        let cuts = st.decoder.feed_cuts_around(&chunk, &marks);
                        st.pass(&chunk, &cuts, &marks)
                    } else {
                        let mut out = BytesMut::new();
                        for ev in st.decoder.feed(&chunk) {
                            st.event(ev.event.as_deref(), &ev.data, &mut out);
                        }
                        out.freeze()
                    };
                    if out.is_empty() {
                        continue;
                    }
                    if let Some(g) = st.guard.as_mut() {
                        g.first_byte();
                    }
                    return Some((Ok::<_, std::convert::Infallible>(out), st));
                }
                Some(Err(_)) | None => {
                    let mut out = BytesMut::new();
                    st.end(&mut out);
                    if st.terminated && st.failed {
                        st.finish(502, Some("upstream_error"));
                        return (!out.is_empty()).then(|| (Ok(out.freeze()), st));
                    }
                    if st.terminated {
                        st.finish_committed().await;
                        return (!out.is_empty()).then(|| (Ok(out.freeze()), st));
                    }
                    // The upstream stopped before its terminal event: end with an error event.
                    let message = "the upstream stream ended unexpectedly";
                    if let Mode::Responses { events } = st.mode {
                        sse::encode(
                            &mut out,
                            Some("error"),
                            &serde_json::json!({"type": "error", "code": "server_error",
                                "message": message, "param": null, "sequence_number": events})
                            .to_string(),
                        );
                    } else {
                        sse::encode_error(&mut out, st.protocol, message);
                    }
                    st.finish(502, Some("upstream_stream_cut"));
                    return Some((Ok(out.freeze()), st));
                }
            }
        }
    });
    sse_response(Body::from_stream(body), up)
}

#[allow(clippy::too_many_arguments)]
async fn loopback_answer(
    up: &Upstream,
    protocol: Protocol,
    body: &Bytes,
    model: &str,
    stream: bool,
    include_usage: bool,
    request_id: &str,
    mut guard: RecordGuard,
) -> Response {
    let reply = match loopback::answer(protocol, body) {
        Ok(r) => r,
        Err(e) => {
            guard.finish(400, Some(e.kind()));
            return e.into_response();
        }
    };
    guard.set_usage(reply.prompt_tokens, reply.completion_tokens());
    let created = unix_now();
    let id = request_id.trim_start_matches("req_");
    if !stream {
        guard.first_byte();
        guard.finish_committed(200, None).await;
        let body = loopback::response(protocol, id, model, created, &reply);
        return json_response(StatusCode::OK, body, up);
    }
    let events = loopback::Stream::new(protocol, id, model, created, reply, include_usage);
    let state = (events, Some(guard), up.settings.chunk_delay, true);
    let body =
        futures_util::stream::unfold(state, |(mut events, mut guard, delay, first)| async move {
            let mut out = BytesMut::with_capacity(256);
            if !events.write_next(&mut out) {
                if let Some(g) = guard.take() {
                    g.finish_committed(200, None).await;
                }
                return None;
            }
            if !first && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(g) = guard.as_mut() {
                g.first_byte();
            }
            Some((
                Ok::<_, std::convert::Infallible>(out.freeze()),
                (events, guard, delay, false),
            ))
        });
    sse_response(Body::from_stream(body), up)
}

/// One provider's attempts: the first 2xx response, or the failure that
/// ended them — a failure not worth retrying, or the last one once the
/// provider's `max_retries` are spent. Each failure is counted and logged.
pub(crate) async fn attempts<'a, F, Fut>(
    up: &Upstream,
    request_id: &str,
    mut send: F,
) -> Result<upstream::Response, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<upstream::Response, Failure>> + 'a,
{
    let name = up.settings.name.as_str();
    let mut attempt = 0;
    loop {
        match send().await {
            Ok(resp) => return Ok(resp),
            Err(f) => {
                crate::metrics::upstream_error(name, f.kind());
                tracing::warn!(
                    request_id,
                    provider = name,
                    attempt,
                    failure = f.kind(),
                    "upstream attempt failed"
                );
                if !f.retryable() || attempt >= up.settings.max_retries {
                    return Err(f);
                }
            }
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
    }
}

/// The type of a Responses stream event that ends the stream, if it is one.
fn responses_terminal(data: &str) -> Option<&'static str> {
    [
        "response.completed",
        "response.incomplete",
        "response.failed",
    ]
    .into_iter()
    .find(|t| data.contains(&format!("\"type\":\"{t}\"")))
}

/// The providers a `/v1/responses` request for `model` is passed through to:
/// those of its route serving `/responses` themselves, when the first one does
/// (else the request is translated to chat completions).
pub fn responses_chain<'a>(app: &'a AppState, model: &str) -> Option<(String, Vec<&'a Upstream>)> {
    let target = crate::routing::resolve(&app.settings, model)?;
    let chain: Vec<&Upstream> = target
        .providers
        .iter()
        .map(|&i| &app.upstreams[i])
        .collect();
    if !chain.first()?.serves_responses() {
        return None;
    }
    let chain = chain.into_iter().filter(|u| u.serves_responses()).collect();
    Some((target.upstream_model.to_owned(), chain))
}

/// `/v1/responses` passed through to providers that serve it (see
/// [`responses_chain`]): the client's body with the model rewritten, the
/// upstream's answer as it is, its usage read for the ledger.
#[allow(clippy::too_many_arguments)]
pub async fn responses_passthrough(
    app: Arc<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    body: Bytes,
    model: &str,
    stream: bool,
    upstream_model: String,
    chain: Vec<&Upstream>,
) -> Response {
    let protocol = Protocol::OpenAi;
    let mut guard = RecordGuard::new(
        app.sink.clone(),
        ctx.request_id.clone(),
        "/v1/responses",
        model,
        ctx.started,
        ctx.permit.clone(),
    );
    guard.set_identity(ctx.identity.as_deref());
    guard.set_streamed(stream);
    if let Err(e) = admit(&app, &ctx, protocol, model).await {
        guard.finish(e.status.as_u16(), Some(e.kind()));
        return e.into_response();
    }
    let upstream_body = match rewrite_body(&body, model, &upstream_model, false) {
        Ok(b) => b,
        Err(m) => {
            let e = ApiError::bad_request(protocol, m);
            guard.finish(400, Some(e.kind()));
            return e.into_response();
        }
    };
    let price = price_of(&app.settings, &upstream_model, model);
    let mut last_failure: Option<(String, Failure)> = None;
    for up in chain {
        let name = up.settings.name.as_str();
        guard.set_target(name, &upstream_model, price);
        let sent = attempts(up, &ctx.request_id, || {
            up.send(Operation::Responses, upstream_body.clone(), &headers)
        })
        .await;
        match sent {
            Ok(resp) => {
                return if stream {
                    stream_through(protocol, up, resp, Mode::Responses { events: 0 }, guard)
                } else {
                    buffered(
                        protocol,
                        up,
                        resp,
                        Convert::None,
                        (model, ""),
                        guard,
                        app.settings.server.request_timeout,
                    )
                    .await
                };
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
    let err = failure_to_error(protocol, last_failure);
    guard.finish(err.status.as_u16(), Some(err.kind()));
    err.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_read_from_the_end_of_answers_and_chunks() {
        let openai = br#"{"id":"c","choices":[{"message":{"content":"say \"usage\":{}"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        assert_eq!(tokens(response_usage(openai).unwrap()), (7, 3));
        let anthropic = br#"{"id":"m","content":[],"usage":{"input_tokens":5,"output_tokens":2},"stop_reason":"end_turn"}"#;
        assert_eq!(tokens(response_usage(anthropic).unwrap()), (5, 2));
        assert!(response_usage(br#"{"usage":null}"#).is_none());
        assert!(response_usage(b"not json").is_none());
        // A key written with escapes: the whole body is parsed instead.
        let escaped = br#"{"usage":{"prompt_tokens":1},"\u0075":2}"#;
        assert_eq!(tokens(response_usage(escaped).unwrap()), (1, 0));

        let usage = |data: &str| chunk_usage(data).map(|(u, no_choices)| (tokens(u), no_choices));
        assert_eq!(usage(r#"{"choices":[],"usage":null}"#), None);
        assert_eq!(usage(r#"{"usage": null , "choices":[{"delta":{}}]}"#), None);
        assert_eq!(
            usage(r#"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#),
            Some(((4, 2), true))
        );
        assert_eq!(
            usage(r#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":4}}"#),
            Some(((4, 0), false))
        );
        assert_eq!(
            usage(r#"{"choices":[{"delta":{"content":"\"usage\":{\"prompt_tokens\":9}"}}]}"#),
            None
        );
        assert_eq!(
            usage(r#"{"choices":"bad","usage":{"prompt_tokens":4}}"#),
            None
        );
    }

    #[test]
    fn stream_chunks_are_searched_once_for_what_may_matter() {
        let chunk = b"data: {\"usage\":{}}\n\ndata: {}\n\ndata: [DONE]\n\n";
        assert_eq!(marks(Protocol::OpenAi, chunk), vec![8..13, 36..42]);
        assert!(marks(Protocol::OpenAi, b"data: {}\n\n").is_empty());
        // A null usage holds no tokens: no mark.
        for null in [
            &b"data: {\"choices\":[],\"usage\":null}\n\n"[..],
            b"data: {\"usage\" : null}\n\n",
            b"data: {\"usage\":\n null}\n\n",
        ] {
            assert!(marks(Protocol::OpenAi, null).is_empty(), "{null:?}");
        }
        for named in [
            &b"data: {\"usage\":{\"prompt_tokens\":1}}\n\n"[..],
            b"data: {\"usage\": nil}\n\n",
            b"data: {\"content\":\"usage null\"}\n\n",
        ] {
            assert_eq!(marks(Protocol::OpenAi, named).len(), 1, "{named:?}");
        }
        let openai = |raw: &[u8]| may_matter(Protocol::OpenAi, raw);
        let anthropic = |raw: &[u8]| may_matter(Protocol::Anthropic, raw);
        assert!(!openai(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"
        ));
        assert!(openai(b"data: [DONE]\n\n"));
        // An event split across chunks is searched as marks are searched.
        assert!(!openai(b"data: {\"usage\":null}\n\n"));
        assert!(openai(b"data: {\"usage\":null,\"x\":\"usage\"}\n\n"));
        assert!(anthropic(b"event: message_stop\ndata: {}\n\n"));
        assert!(anthropic(b"event: message_delta\ndata: {\"usage\":{}}\n\n"));
        assert!(!anthropic(b"event: content_block_delta\ndata: {}\n\n"));
    }

    #[test]
    fn usage_is_requested_without_reparsing_the_body() {
        let body = Bytes::from_static(br#" {"model":"m","stream":true,"x":[1,{"y":2}]}"#);
        let out = rewrite_body(&body, "m", "m", true).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["x"][1]["y"], 2, "the rest is untouched");
        assert!(out.ends_with(br#""x":[1,{"y":2}]}"#));
        let v: Value = serde_json::from_slice(&with_usage_requested(b"{ }").unwrap()).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        // A body that names stream_options (even as null) is rewritten in full,
        // so no key is duplicated.
        for named in [
            r#"{"model":"m","stream_options":null}"#,
            r#"{"model":"m","stream_options":{"include_usage":false,"other":1}}"#,
        ] {
            assert!(with_usage_requested(named.as_bytes()).is_none());
            let out = rewrite_body(&Bytes::from(named), "m", "m", true).unwrap();
            let text = std::str::from_utf8(&out).unwrap();
            assert_eq!(text.matches("stream_options").count(), 1, "{text}");
            let v: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["stream_options"]["include_usage"], true, "{text}");
        }
        // An alias still rewrites the model.
        let out = rewrite_body(&body, "m", "upstream-m", true).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (
                v["model"].as_str(),
                v["stream_options"]["include_usage"].as_bool()
            ),
            (Some("upstream-m"), Some(true))
        );
    }
}
