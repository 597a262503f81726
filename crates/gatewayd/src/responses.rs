//! The OpenAI Responses API (`/v1/responses`), as Codex speaks it.
//!
//! A Responses request is translated to a Chat Completions request and runs
//! through the chat path ([`crate::proxy::chat_for`]) — the same auth, model
//! globs, rate limits, routing, fallback, translation to Anthropic, loopback and
//! ledger as `/v1/chat/completions` — and its answer is translated back: a
//! `response` object, or the Responses stream events
//! (`tokgateway_protocol::responses`).
//!
//! When the first provider of the model's route is an `openai` provider with
//! `responses = true`, the request is passed through to its `/responses`
//! instead (falling back only to other such providers), and that upstream
//! keeps the conversation state itself.
//!
//! With `store` (the default, as at OpenAI) the response and the conversation
//! so far are kept in the store for `responses.ttl`, so a later request naming
//! it in `previous_response_id` continues the conversation, on any instance
//! and across restarts. Only the key that created a response can read,
//! continue or delete it; to anyone else it does not exist (404).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokgateway_protocol::responses::{self as rs, ChatToResponsesStream, ResponseCtx};
use tokgateway_protocol::translate::Out;
use tokgateway_store::StoredResponse;

use crate::app::{AppState, RequestCtx};
use crate::error::{ApiError, Protocol};

const ENDPOINT: &str = "/v1/responses";

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(Protocol::OpenAi, msg)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        Protocol::OpenAi,
        StatusCode::NOT_FOUND,
        format!("no response with id `{id}`"),
    )
}

fn store_unavailable(e: &tokgateway_store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "responses: store error");
    ApiError::new(
        Protocol::OpenAi,
        StatusCode::SERVICE_UNAVAILABLE,
        "the response store is unavailable",
    )
}

fn owner_of(ctx: &RequestCtx) -> Option<String> {
    ctx.identity.as_ref().map(|i| i.key_id.clone())
}

/// A stored response the caller may use, or 404.
async fn owned(app: &AppState, ctx: &RequestCtx, id: &str) -> Result<StoredResponse, ApiError> {
    match app.store.get_response(id).await {
        Ok(Some(r)) if r.key_id == owner_of(ctx) => Ok(r),
        Ok(_) => Err(not_found(id)),
        Err(e) => Err(store_unavailable(&e)),
    }
}

fn new_response_id() -> String {
    format!("resp_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// What a finished turn needs to be stored.
struct Turn {
    app: Arc<AppState>,
    owner: Option<String>,
    model: String,
    /// The conversation before this turn's output: history + this request's messages.
    messages: Vec<Value>,
}

impl Turn {
    async fn save(self, response: &Value) {
        let mut messages = self.messages;
        messages.extend(rs::chat_turn_messages(response));
        let now = tokgateway_store::now_ms();
        let ttl = i64::try_from(self.app.settings.responses_ttl.as_millis()).unwrap_or(i64::MAX);
        let row = StoredResponse {
            id: response["id"].as_str().unwrap_or_default().to_owned(),
            key_id: self.owner,
            created_at: now,
            expires_at: now.saturating_add(ttl),
            model: self.model,
            messages: Value::Array(messages).to_string(),
            response: response.to_string(),
        };
        if let Err(e) = self.app.store.put_response(&row).await {
            tracing::warn!(response_id = %row.id, error = %e, "responses: could not store the response");
        }
    }
}

/// `POST /v1/responses`.
pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match create_inner(app, ctx, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn create_inner(
    app: Arc<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = crate::routes::read_body(&app, Protocol::OpenAi, body).await?;
    let req: Value = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("request body is not valid JSON: {e}")))?;
    if !req.is_object() {
        return Err(bad_request("the request body must be a JSON object"));
    }
    let model = match req.get("model").and_then(Value::as_str) {
        Some(m) if !m.trim().is_empty() => m.to_owned(),
        _ => return Err(bad_request("`model` is required").with_param("model")),
    };
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let store = req.get("store").and_then(Value::as_bool).unwrap_or(true);

    if let Some((upstream_model, chain)) = crate::proxy::responses_chain(&app, &model) {
        let app2 = app.clone();
        return Ok(crate::proxy::responses_passthrough(
            app2,
            ctx,
            headers,
            body,
            &model,
            stream,
            upstream_model,
            chain,
        )
        .await);
    }

    let history: Vec<Value> = match req.get("previous_response_id") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(prev)) => {
            let stored = owned(&app, &ctx, prev)
                .await
                .map_err(|e| e.with_param("previous_response_id"))?;
            serde_json::from_str(&stored.messages).unwrap_or_default()
        }
        Some(_) => {
            return Err(bad_request("`previous_response_id` must be a string")
                .with_param("previous_response_id"));
        }
    };
    let chat_req = rs::responses_to_chat_request(&req, &history, &model).map_err(bad_request)?;
    let dropped = rs::dropped_fields(&req);
    if !dropped.is_empty() {
        tracing::info!(request_id = %ctx.request_id, fields = ?dropped, "responses: fields without a chat completions equivalent were dropped");
    }
    // The conversation so far: the stored history and this request's input
    // (instructions are not part of it: they do not carry over).
    let messages = rs::request_turn_messages(&chat_req);
    let turn = store.then(|| Turn {
        app: app.clone(),
        owner: owner_of(&ctx),
        model: model.clone(),
        messages,
    });
    let rctx = ResponseCtx {
        id: new_response_id(),
        created: crate::proxy::unix_now(),
        model,
        request: req,
    };

    let chat_body = Bytes::from(serde_json::to_vec(&chat_req).unwrap_or_default());
    let resp =
        crate::proxy::chat_for(app, ctx, Protocol::OpenAi, ENDPOINT, headers, chat_body).await;
    if !resp.status().is_success() {
        // Errors already have the OpenAI shape the Responses API uses.
        return Ok(resp);
    }
    let (mut parts, body) = resp.into_parts();
    if stream {
        let events = translate_stream(body, rctx, turn);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        return Ok(Response::from_parts(parts, Body::from_stream(events)));
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        ApiError::new(
            Protocol::OpenAi,
            StatusCode::BAD_GATEWAY,
            format!("reading the upstream answer failed: {e}"),
        )
    })?;
    let chat: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            Protocol::OpenAi,
            StatusCode::BAD_GATEWAY,
            format!("the upstream answer is not JSON: {e}"),
        )
    })?;
    let response = rs::chat_to_responses_response(&chat, &rctx);
    if let Some(turn) = turn {
        turn.save(&response).await;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(Response::from_parts(
        parts,
        Body::from(response.to_string()),
    ))
}

impl crate::chatstream::ChatSink for ChatToResponsesStream {
    fn push(&mut self, data: &str, out: &mut Vec<Out>) {
        ChatToResponsesStream::push(self, data, out);
    }
    fn finish(&mut self, out: &mut Vec<Out>) {
        ChatToResponsesStream::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<Out>) {
        ChatToResponsesStream::fail(self, message, out);
    }
    fn done(&self) -> bool {
        ChatToResponsesStream::done(self)
    }
}

/// Chat chunks in, Responses events out; stores the response when it completes.
fn translate_stream(
    body: Body,
    rctx: ResponseCtx,
    turn: Option<Turn>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let on_done = turn.map(|turn| -> crate::chatstream::OnDone<ChatToResponsesStream> {
        Box::new(move |m: &ChatToResponsesStream| {
            let response = m.response().filter(|r| r["status"] != "failed").cloned();
            Box::pin(async move {
                if let Some(r) = response {
                    turn.save(&r).await;
                }
            })
        })
    });
    crate::chatstream::translate(body, ChatToResponsesStream::new(rctx), on_done)
}

/// `GET /v1/responses/{id}`.
pub async fn get(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Response {
    match owned(&app, &ctx, &id).await {
        Ok(r) => ([(header::CONTENT_TYPE, "application/json")], r.response).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = owned(&app, &ctx, &id).await {
        return e.into_response();
    }
    match app.store.delete_response(&id).await {
        Ok(_) => {
            axum::Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
        }
        Err(e) => store_unavailable(&e).into_response(),
    }
}
