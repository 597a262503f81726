//! The built-in `loopback` model: answers deterministically from the request,
//! in the client's own protocol, so the gateway works with no upstream at all.
//!
//! The reply is `loopback: ` followed by the last user message's text, one
//! token per word; `max_tokens` cuts it short (finish reason `length` /
//! `max_tokens`). Prompt tokens are estimated as one per four characters.

use serde_json::{Value, json};

use crate::error::Protocol;

/// A computed reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The words of the reply, each with its leading space (but the first).
    pub words: Vec<String>,
    pub prompt_tokens: u64,
    /// Whether `max_tokens` cut the reply.
    pub truncated: bool,
}

impl Reply {
    pub fn completion_tokens(&self) -> u64 {
        self.words.len() as u64
    }

    pub fn text(&self) -> String {
        self.words.concat()
    }
}

/// Rough token count: one per four characters, at least one for any text.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Every piece of text in a message `content` (string or content parts/blocks).
fn content_text(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => out.push_str(s),
        Value::Array(parts) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                } else if let Some(c) = p.get("content") {
                    content_text(c, out);
                }
            }
        }
        _ => {}
    }
}

/// Computes the reply to a chat request of either protocol.
pub fn reply(request: &Value) -> Reply {
    let mut prompt = String::new();
    if let Some(system) = request.get("system") {
        content_text(system, &mut prompt);
    }
    let mut last_user = String::new();
    for m in request
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut text = String::new();
        if let Some(c) = m.get("content") {
            content_text(c, &mut text);
        }
        prompt.push_str(&text);
        if m.get("role").and_then(Value::as_str) == Some("user") && !text.trim().is_empty() {
            last_user = text;
        }
    }
    let max = request
        .get("max_tokens")
        .or_else(|| request.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let mut words: Vec<String> = Vec::new();
    for (i, w) in std::iter::once("loopback:")
        .chain(last_user.split_whitespace())
        .enumerate()
    {
        words.push(if i == 0 {
            w.to_owned()
        } else {
            format!(" {w}")
        });
    }
    let truncated = (words.len() as u64) > max;
    if truncated {
        words.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    Reply {
        words,
        prompt_tokens: estimate_tokens(&prompt).max(1),
        truncated,
    }
}

/// A non-streaming response body in `protocol`.
pub fn response(protocol: Protocol, id: &str, model: &str, created: u64, r: &Reply) -> Value {
    let (prompt, completion) = (r.prompt_tokens, r.completion_tokens());
    match protocol {
        Protocol::OpenAi => json!({
            "id": format!("chatcmpl-{id}"),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": r.text(), "refusal": null },
                "logprobs": null,
                "finish_reason": if r.truncated { "length" } else { "stop" },
            }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
        }),
        Protocol::Anthropic => json!({
            "id": format!("msg_{id}"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{ "type": "text", "text": r.text() }],
            "stop_reason": if r.truncated { "max_tokens" } else { "end_turn" },
            "stop_sequence": null,
            "usage": { "input_tokens": prompt, "output_tokens": completion },
        }),
    }
}

/// The SSE events of a streamed reply, as `(event name, JSON data)`; OpenAI
/// streams end with the `[DONE]` sentinel (data only).
pub fn stream_events(
    protocol: Protocol,
    id: &str,
    model: &str,
    created: u64,
    r: &Reply,
    include_usage: bool,
) -> Vec<(Option<&'static str>, String)> {
    let (prompt, completion) = (r.prompt_tokens, r.completion_tokens());
    let mut out = Vec::with_capacity(r.words.len() + 8);
    match protocol {
        Protocol::OpenAi => {
            let id = format!("chatcmpl-{id}");
            let usage_null = if include_usage {
                Some(Value::Null)
            } else {
                None
            };
            let chunk = |delta: Value, finish: Value| {
                let mut c = json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
                });
                if let Some(u) = &usage_null {
                    c["usage"] = u.clone();
                }
                c.to_string()
            };
            out.push((
                None,
                chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            ));
            for w in &r.words {
                out.push((None, chunk(json!({ "content": w }), Value::Null)));
            }
            out.push((
                None,
                chunk(
                    json!({}),
                    json!(if r.truncated { "length" } else { "stop" }),
                ),
            ));
            if include_usage {
                out.push((None, json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
                    "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
                }).to_string()));
            }
            out.push((None, "[DONE]".to_owned()));
        }
        Protocol::Anthropic => {
            out.push((Some("message_start"), json!({
                "type": "message_start",
                "message": {
                    "id": format!("msg_{id}"), "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": { "input_tokens": prompt, "output_tokens": 1 },
                },
            }).to_string()));
            out.push((Some("content_block_start"), json!({
                "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" },
            }).to_string()));
            out.push((Some("ping"), json!({ "type": "ping" }).to_string()));
            for w in &r.words {
                out.push((Some("content_block_delta"), json!({
                    "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": w },
                }).to_string()));
            }
            out.push((
                Some("content_block_stop"),
                json!({ "type": "content_block_stop", "index": 0 }).to_string(),
            ));
            out.push((Some("message_delta"), json!({
                "type": "message_delta",
                "delta": { "stop_reason": if r.truncated { "max_tokens" } else { "end_turn" }, "stop_sequence": null },
                "usage": { "output_tokens": completion },
            }).to_string()));
            out.push((
                Some("message_stop"),
                json!({ "type": "message_stop" }).to_string(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_reply() {
        let req = json!({"model":"loopback","max_tokens":3,"messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":"first"},
            {"role":"assistant","content":"ok"},
            {"role":"user","content":[{"type":"text","text":"hello big world"}]}
        ]});
        let r = reply(&req);
        assert_eq!(r.text(), "loopback: hello big");
        assert!(r.truncated);
        assert_eq!(r.completion_tokens(), 3);
        assert!(r.prompt_tokens >= 1);
        let again = reply(&req);
        assert_eq!(again.text(), r.text());
    }
}
