//! Google Gemini's native endpoints, for Gemini clients:
//! `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
//! (`?alt=sse` streams; without it the answer is a JSON array of response
//! chunks, here one), `:countTokens`, and `GET /v1beta/models[/{model}]`.
//!
//! Like `/v1/responses`, a Gemini request is translated to a Chat Completions
//! request and runs through the chat path (auth, model globs, rate limits,
//! routing, fallback, every provider type, the ledger), and the answer is
//! translated back (`tokgateway_protocol::gemini`). Errors have Google's shape
//! `{"error":{"code","message","status"}}`. Keys are accepted as
//! `x-goog-api-key` (what Gemini SDKs send), `?key=`, or the usual headers.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokgateway_protocol::gemini::{self as gm, ChatToGeminiStream};
use tokgateway_protocol::translate::Out;

use crate::app::{AppState, RequestCtx};
use crate::error::{ApiError, Protocol};
use crate::upstream::loopback;

const P: Protocol = Protocol::Gemini;
const GENERATE: &str = "/v1beta/models:generateContent";
const STREAM: &str = "/v1beta/models:streamGenerateContent";

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(P, msg)
}

/// `{model}:{action}` from the last path segment.
fn split_target(target: &str) -> Result<(&str, &str), ApiError> {
    let target = target.strip_prefix("models/").unwrap_or(target);
    match target.rsplit_once(':') {
        Some((model, action)) if !model.is_empty() => Ok((model, action)),
        _ => Err(ApiError::new(
            P,
            StatusCode::NOT_FOUND,
            format!(
                "`{target}` is not `MODEL:generateContent`, `:streamGenerateContent` or `:countTokens`"
            ),
        )),
    }
}

async fn read_json(app: &AppState, body: Body) -> Result<Value, ApiError> {
    let bytes = crate::routes::read_body(app, P, body).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(bad_request("the request body must be a JSON object")),
        Err(e) => Err(bad_request(format!("request body is not valid JSON: {e}"))),
    }
}

/// `POST /v1beta/models/{model}:{action}`.
pub async fn action(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(target): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (model, action) = split_target(&target)?;
        let req = read_json(&app, body).await?;
        match action {
            "generateContent" => generate(app, ctx, headers, model, &req, None).await,
            "streamGenerateContent" => {
                let sse = uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
                generate(app, ctx, headers, model, &req, Some(sse)).await
            }
            "countTokens" => count_tokens(model, &req),
            other => Err(ApiError::new(
                P,
                StatusCode::NOT_FOUND,
                format!("unknown method `{other}`: generateContent, streamGenerateContent or countTokens"),
            )),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `stream`: `None` for generateContent, `Some(sse)` for streamGenerateContent.
async fn generate(
    app: Arc<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    model: &str,
    req: &Value,
    stream: Option<bool>,
) -> Result<Response, ApiError> {
    // Without alt=sse, streamGenerateContent answers a JSON array of
    // chunks: one whole response is a valid such array.
    let sse = stream == Some(true);
    let chat = gm::gemini_to_chat_request(req, model, sse).map_err(bad_request)?;
    let endpoint = if stream.is_some() { STREAM } else { GENERATE };
    let body = Bytes::from(serde_json::to_vec(&chat).unwrap_or_default());
    let resp = crate::proxy::chat_for(app, ctx, Protocol::OpenAi, endpoint, headers, body).await;
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if !parts.status.is_success() {
        // The chat path's OpenAI-shaped error, in Google's shape.
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let message = crate::upstream::error_message(&bytes)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        let err = ApiError::new(P, parts.status, message);
        let mut r = err.into_response();
        for name in [
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-gateway-provider"),
        ] {
            if let Some(v) = parts.headers.get(&name) {
                r.headers_mut().insert(name, v.clone());
            }
        }
        return Ok(r);
    }
    if sse {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let events = crate::chatstream::translate(body, GeminiSink::new(model), None);
        return Ok(Response::from_parts(parts, Body::from_stream(events)));
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        ApiError::new(
            P,
            StatusCode::BAD_GATEWAY,
            format!("reading the upstream answer failed: {e}"),
        )
    })?;
    let chat: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            P,
            StatusCode::BAD_GATEWAY,
            format!("the upstream answer is not JSON: {e}"),
        )
    })?;
    let answer = gm::chat_to_gemini_response(&chat, model);
    let answer = if stream.is_some() {
        Value::Array(vec![answer])
    } else {
        answer
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(Response::from_parts(parts, Body::from(answer.to_string())))
}

/// [`ChatToGeminiStream`], with a failure ending the stream in an error object.
struct GeminiSink {
    inner: ChatToGeminiStream,
    failed: bool,
}

impl GeminiSink {
    fn new(model: &str) -> Self {
        Self {
            inner: ChatToGeminiStream::new(model),
            failed: false,
        }
    }
}

impl crate::chatstream::ChatSink for GeminiSink {
    fn push(&mut self, data: &str, out: &mut Vec<Out>) {
        self.inner.push(data, out);
    }
    fn finish(&mut self, out: &mut Vec<Out>) {
        self.inner.finish(out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<Out>) {
        self.failed = true;
        out.push((
            None,
            gm::gemini_error(StatusCode::BAD_GATEWAY.as_u16(), message).to_string(),
        ));
    }
    fn done(&self) -> bool {
        self.failed || self.inner.done()
    }
}

/// `:countTokens`: a local estimate, like `/v1/messages/count_tokens`.
fn count_tokens(model: &str, req: &Value) -> Result<Response, ApiError> {
    // Either {contents, ...} or {generateContentRequest: {...}}.
    let inner = req.get("generateContentRequest").unwrap_or(req);
    if inner.get("contents").and_then(Value::as_array).is_none() {
        return Err(bad_request("`contents` is required and must be an array"));
    }
    let chat = gm::gemini_to_chat_request(inner, model, false).map_err(bad_request)?;
    Ok(Json(json!({"totalTokens": loopback::request_tokens(&chat)})).into_response())
}

fn model_json(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "1",
        "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}

/// `GET /v1beta/models`: the models this gateway routes.
pub async fn models(State(app): State<Arc<AppState>>) -> Json<Value> {
    let models: Vec<Value> = crate::routing::advertised_models(&app.settings)
        .iter()
        .map(|(id, _)| model_json(id))
        .collect();
    Json(json!({ "models": models }))
}

/// `GET /v1beta/models/{model}`.
pub async fn model(State(app): State<Arc<AppState>>, Path(target): Path<String>) -> Response {
    let id = target.strip_prefix("models/").unwrap_or(&target);
    if crate::routing::resolve(&app.settings, id).is_some() {
        Json(model_json(id)).into_response()
    } else {
        ApiError::new(
            P,
            StatusCode::NOT_FOUND,
            format!("model `{id}` is not served by this gateway"),
        )
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            split_target("gemini-2.5-flash:generateContent").ok(),
            Some(("gemini-2.5-flash", "generateContent"))
        );
        assert_eq!(
            split_target("models/m:countTokens").ok(),
            Some(("m", "countTokens"))
        );
        assert!(split_target("no-action").is_err());
        assert!(split_target(":generateContent").is_err());
    }
}
