//! The built-in `loopback` model: answers deterministically from the request,
//! in the client's own protocol, so the gateway works with no upstream at all.
//!
//! The reply is `loopback: ` followed by the last user message's text (or the
//! last tool result's), one token per word; `max_tokens` cuts it short (finish
//! reason `length` / `max_tokens`). When the request offers tools and
//! `tool_choice` forces one (`required`, `any`, or a named tool), the reply is
//! instead a call of that tool (else the first), whose arguments fill every
//! string property of the tool's schema with the last user text. Prompt tokens
//! are estimated as one per four characters.

use serde_json::{Value, json};

use crate::error::{ApiError, Protocol};

/// A computed reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The words of the reply, each with its leading space (but the first).
    pub words: Vec<String>,
    pub prompt_tokens: u64,
    /// Whether `max_tokens` cut the reply.
    pub truncated: bool,
    /// A tool call instead of text: name and JSON arguments.
    pub tool: Option<(String, String)>,
}

impl Reply {
    pub fn completion_tokens(&self) -> u64 {
        match &self.tool {
            Some((_, args)) => estimate_tokens(args).max(1),
            None => self.words.len() as u64,
        }
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

/// The checks a real upstream would make before answering: `messages` is a
/// non-empty array of objects with a role, and Anthropic requests carry `max_tokens`.
pub fn validate(protocol: Protocol, request: &Value) -> Result<(), ApiError> {
    let bad = |msg: &str, param: &str| {
        Err(ApiError::bad_request(protocol, msg.to_owned()).with_param(param))
    };
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return bad("`messages` must be an array of messages", "messages");
    };
    if messages.is_empty() {
        return bad("`messages` must contain at least one message", "messages");
    }
    for (i, m) in messages.iter().enumerate() {
        if m.get("role").and_then(Value::as_str).is_none() {
            return bad(
                &format!("messages[{i}].role is required"),
                &format!("messages[{i}].role"),
            );
        }
    }
    if protocol == Protocol::Anthropic
        && request.get("max_tokens").and_then(Value::as_u64).is_none()
    {
        return bad(
            "`max_tokens` is required and must be a positive integer",
            "max_tokens",
        );
    }
    Ok(())
}

/// The count_tokens estimate of a chat or messages request: its prompt
/// (system and messages) and its tool definitions.
pub fn request_tokens(request: &Value) -> u64 {
    let mut tokens = reply(request).prompt_tokens;
    if let Some(tools) = request.get("tools") {
        tokens += estimate_tokens(&tools.to_string());
    }
    tokens
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
        let role = m.get("role").and_then(Value::as_str);
        if matches!(role, Some("user" | "tool")) && !text.trim().is_empty() {
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
    let last_is_tool_result = request
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .is_some_and(|m| {
            m.get("role").and_then(Value::as_str) == Some("tool")
                || m.get("content").and_then(Value::as_array).is_some_and(|c| {
                    c.iter()
                        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                })
        });
    let tool = if last_is_tool_result {
        None
    } else {
        forced_tool(request, &last_user)
    };
    Reply {
        words: if tool.is_some() { Vec::new() } else { words },
        prompt_tokens: estimate_tokens(&prompt).max(1),
        truncated: truncated && tool.is_none(),
        tool,
    }
}

/// The tool `tool_choice` forces, with arguments built from its schema.
fn forced_tool(request: &Value, text: &str) -> Option<(String, String)> {
    let tools = request.get("tools")?.as_array()?;
    let choice = request.get("tool_choice")?;
    let named = match choice {
        Value::String(s) if s == "required" => None,
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("any") => None,
            Some("tool") => Some(o.get("name")?.as_str()?.to_owned()),
            Some("function") => Some(o.get("function")?.get("name")?.as_str()?.to_owned()),
            _ => return None,
        },
        _ => return None,
    };
    // OpenAI tools nest under `function`; Anthropic tools do not.
    let spec = |t: &Value| -> Option<(String, Value)> {
        let f = t.get("function").unwrap_or(t);
        let name = f.get("name")?.as_str()?.to_owned();
        let schema = f
            .get("parameters")
            .or_else(|| f.get("input_schema"))
            .cloned()
            .unwrap_or(Value::Null);
        Some((name, schema))
    };
    let (name, schema) = match &named {
        Some(n) => tools.iter().filter_map(spec).find(|(name, _)| name == n)?,
        None => tools.iter().find_map(spec)?,
    };
    let mut args = serde_json::Map::new();
    for (prop, def) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if def.get("type").and_then(Value::as_str) == Some("string") {
            args.insert(prop.clone(), Value::String(text.to_owned()));
        }
    }
    Some((name, Value::Object(args).to_string()))
}

/// The tool call's id in either protocol.
fn tool_id(protocol: Protocol, id: &str) -> String {
    match protocol {
        Protocol::OpenAi | Protocol::Gemini => format!("call_{id}"),
        Protocol::Anthropic => format!("toolu_{id}"),
    }
}

fn finish_reason(r: &Reply) -> &'static str {
    match (&r.tool, r.truncated) {
        (Some(_), _) => "tool_calls",
        (None, true) => "length",
        (None, false) => "stop",
    }
}

fn stop_reason(r: &Reply) -> &'static str {
    match (&r.tool, r.truncated) {
        (Some(_), _) => "tool_use",
        (None, true) => "max_tokens",
        (None, false) => "end_turn",
    }
}

/// A non-streaming response body in `protocol`.
pub fn response(protocol: Protocol, id: &str, model: &str, created: u64, r: &Reply) -> Value {
    let (prompt, completion) = (r.prompt_tokens, r.completion_tokens());
    match protocol {
        // Gemini clients reach the loopback model as OpenAI clients (crate::gemini).
        Protocol::OpenAi | Protocol::Gemini => {
            let mut message = json!({ "role": "assistant", "content": r.text(), "refusal": null });
            if let Some((name, args)) = &r.tool {
                message["content"] = Value::Null;
                message["tool_calls"] = json!([{
                    "id": tool_id(protocol, id), "type": "function",
                    "function": { "name": name, "arguments": args },
                }]);
            }
            json!({
                "id": format!("chatcmpl-{id}"),
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(r) }],
                "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
            })
        }
        Protocol::Anthropic => {
            let content = match &r.tool {
                Some((name, args)) => json!([{
                    "type": "tool_use", "id": tool_id(protocol, id), "name": name,
                    "input": serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({})),
                }]),
                None => json!([{ "type": "text", "text": r.text() }]),
            };
            json!({
                "id": format!("msg_{id}"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason(r),
                "stop_sequence": null,
                "usage": { "input_tokens": prompt, "output_tokens": completion },
            })
        }
    }
}

/// Splits tool arguments in two, as models stream them in fragments.
fn halves(args: &str) -> [&str; 2] {
    let mut mid = args.len() / 2;
    while !args.is_char_boundary(mid) {
        mid += 1;
    }
    [&args[..mid], &args[mid..]]
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
    let mut out = Vec::with_capacity(r.words.len() + 10);
    match protocol {
        // Gemini clients reach the loopback model as OpenAI clients (crate::gemini).
        Protocol::OpenAi | Protocol::Gemini => {
            let cid = format!("chatcmpl-{id}");
            let chunk = |delta: Value, finish: Value| {
                let mut c = json!({
                    "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
                });
                if include_usage {
                    c["usage"] = Value::Null;
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
            if let Some((name, args)) = &r.tool {
                let first = json!({"tool_calls": [{"index": 0, "id": tool_id(protocol, id), "type": "function", "function": {"name": name, "arguments": ""}}]});
                out.push((None, chunk(first, Value::Null)));
                for part in halves(args) {
                    out.push((
                        None,
                        chunk(
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
                            Value::Null,
                        ),
                    ));
                }
            }
            out.push((None, chunk(json!({}), json!(finish_reason(r)))));
            if include_usage {
                out.push((None, json!({
                    "id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
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
            match &r.tool {
                Some((name, args)) => {
                    out.push((Some("content_block_start"), json!({
                        "type": "content_block_start", "index": 0,
                        "content_block": { "type": "tool_use", "id": tool_id(protocol, id), "name": name, "input": {} },
                    }).to_string()));
                    for part in halves(args) {
                        out.push((Some("content_block_delta"), json!({
                            "type": "content_block_delta", "index": 0, "delta": { "type": "input_json_delta", "partial_json": part },
                        }).to_string()));
                    }
                }
                None => {
                    out.push((Some("content_block_start"), json!({
                        "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" },
                    }).to_string()));
                    out.push((Some("ping"), json!({ "type": "ping" }).to_string()));
                    for w in &r.words {
                        out.push((Some("content_block_delta"), json!({
                            "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": w },
                        }).to_string()));
                    }
                }
            }
            out.push((
                Some("content_block_stop"),
                json!({ "type": "content_block_stop", "index": 0 }).to_string(),
            ));
            out.push((
                Some("message_delta"),
                json!({
                    "type": "message_delta",
                    "delta": { "stop_reason": stop_reason(r), "stop_sequence": null },
                    "usage": { "output_tokens": completion },
                })
                .to_string(),
            ));
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

    #[test]
    fn forced_tools_in_both_shapes() {
        let openai = json!({"messages":[{"role":"user","content":"Paris"}],"tool_choice":"required",
            "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}}}}]});
        let r = reply(&openai);
        assert_eq!(
            r.tool,
            Some(("weather".to_owned(), r#"{"city":"Paris"}"#.to_owned()))
        );
        let anthropic = json!({"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool","name":"b"},
            "tools":[{"name":"a","input_schema":{}},{"name":"b","input_schema":{"properties":{"q":{"type":"string"}}}}]});
        assert_eq!(
            reply(&anthropic).tool,
            Some(("b".to_owned(), r#"{"q":"x"}"#.to_owned()))
        );
        // After a tool result, text again; with tool_choice auto, never a call.
        let after = json!({"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c","content":"sunny"}],
            "tool_choice":"required","tools":[{"type":"function","function":{"name":"w"}}]});
        let r = reply(&after);
        assert_eq!(
            (r.tool.clone(), r.text()),
            (None, "loopback: sunny".to_owned())
        );
        let auto = json!({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto","tools":[{"type":"function","function":{"name":"w"}}]});
        assert!(reply(&auto).tool.is_none());
    }
}
