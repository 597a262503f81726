//! SSE as the daemon uses it: the pure framing lives in
//! `tokgateway_protocol::sse`; this adds the protocol-shaped error event.

use bytes::BytesMut;
pub use tokgateway_protocol::sse::{Decoder, Event, encode, encode_json, plain_event};

use crate::error::{ApiError, Protocol};

/// Appends the protocol's in-stream error event (a stream that fails after it
/// started ends with one, never with a silent cut).
pub fn encode_error(out: &mut BytesMut, protocol: Protocol, message: &str) {
    let e = ApiError::new(protocol, axum::http::StatusCode::BAD_GATEWAY, message);
    match protocol {
        Protocol::OpenAi => {
            encode_json(out, None, &e.body());
            encode(out, None, "[DONE]");
        }
        Protocol::Anthropic => encode_json(out, Some("error"), &e.body()),
        // Gemini streams carry no error event of their own: the error object as data.
        Protocol::Gemini => encode_json(out, None, &e.body()),
    }
}
