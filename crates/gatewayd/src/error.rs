//! The one error type of the HTTP API. It renders in the client's protocol:
//! OpenAI routes get `{"error":{"message","type","param","code"}}`, Anthropic
//! routes `{"type":"error","error":{"type","message"}}` (SPEC §5 "Errors"), Gemini
//! routes Google's `{"error":{"code","message","status"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which API a client speaks; decides the error shape and stream format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini (`/v1beta/…`): `{"error":{"code","message","status"}}`.
    Gemini,
}

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The request parameter at fault, when there is one (OpenAI `param`).
    pub param: Option<String>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    pub protocol: Protocol,
}

impl ApiError {
    pub fn new(protocol: Protocol, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            retry_after: None,
            protocol,
        }
    }

    pub fn bad_request(protocol: Protocol, message: impl Into<String>) -> Self {
        Self::new(protocol, StatusCode::BAD_REQUEST, message)
    }

    #[must_use]
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The OpenAI `type` for a status.
    pub fn openai_type(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 | 404 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            503 => "service_unavailable",
            504 => "timeout",
            _ => "api_error",
        }
    }

    /// The Anthropic `error.type` for a status.
    pub fn anthropic_type(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            _ => "api_error",
        }
    }

    /// A short label for logs, metrics and the ledger's `error_type`.
    pub fn kind(&self) -> &'static str {
        Self::openai_type(self.status)
    }

    /// The JSON body in the client's protocol.
    pub fn body(&self) -> serde_json::Value {
        match self.protocol {
            Protocol::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": Self::openai_type(self.status),
                    "param": self.param,
                    "code": match self.status.as_u16() {
                        404 => Some("model_not_found"),
                        413 => Some("request_too_large"),
                        429 => Some("rate_limit_exceeded"),
                        _ => None,
                    },
                }
            }),
            Protocol::Anthropic => json!({
                "type": "error",
                "error": { "type": Self::anthropic_type(self.status), "message": self.message }
            }),
            Protocol::Gemini => {
                tokgateway_protocol::gemini::gemini_error(self.status.as_u16(), &self.message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = ApiError::bad_request(Protocol::OpenAi, "bad").with_param("messages");
        assert_eq!(
            e.body(),
            json!({"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}})
        );
        let e = ApiError::new(
            Protocol::Anthropic,
            StatusCode::TOO_MANY_REQUESTS,
            "slow down",
        );
        assert_eq!(
            e.body(),
            json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})
        );
        let resp = e.with_retry_after(7).into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
    }
}
