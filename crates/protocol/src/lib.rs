//! The wire side of tokgateway, with no I/O: SSE framing and the translation
//! between OpenAI Chat Completions and Anthropic Messages (requests,
//! responses, streams). Pure functions over bytes and JSON values, so they are
//! tested and fuzzed in isolation (`tests/properties.rs`).
//! `responses` translates the OpenAI Responses API to and from Chat
//! Completions (composed with `translate` for Anthropic upstreams).
//! `json` reads one member of a JSON object without parsing the rest.
//! `gemini` translates Google Gemini `generateContent` requests, responses
//! and streams to and from Chat Completions, both directions.

pub mod gemini;
pub mod json;
pub mod responses;
pub mod sse;
pub mod translate;
