//! OpenAI Responses API ⇄ OpenAI Chat Completions: requests, responses and
//! streams. Anthropic upstreams are reached by composing with
//! [`crate::translate`] (Responses → Chat → Anthropic for requests, Anthropic
//! stream → chat chunks → Responses events for streams), so this module only
//! knows the two OpenAI shapes.
//!
//! Like `translate`, these are pure functions over JSON values. Errors say
//! what cannot be translated and where (`input[2].call_id is missing`).
//! Request fields with no Chat equivalent are listed by [`dropped_fields`] so
//! the caller can log them; they are never an error.
//!
//! Conversation state (`previous_response_id`) is kept by the caller in Chat
//! form: [`responses_to_chat_request`] takes the earlier turns' messages,
//! [`request_turn_messages`] and [`chat_turn_messages`] give what to store for
//! the next turn.

use serde_json::{Map, Value, json};

use crate::translate::Out;

type Obj = Map<String, Value>;

/// The error for a request whose `input` is missing or of the wrong type.
pub const INPUT_ERROR: &str = "`input` must be a string or a list of items";

// ---------------------------------------------------------------------------
// Requests: Responses → Chat

/// One content part of a Responses input message as a Chat content part.
/// `role` decides what is allowed (images and files only from the user).
fn chat_part(part: &Value, role: &str, at: &str) -> Result<Value, String> {
    if let Value::String(s) = part {
        return Ok(json!({"type": "text", "text": s}));
    }
    let ty = part
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.type is missing"))?;
    let text = |k: &str| {
        part.get(k)
            .and_then(Value::as_str)
            .map(|t| json!({"type": "text", "text": t}))
            .ok_or_else(|| format!("{at}.{k} is missing"))
    };
    match ty {
        "input_text" | "output_text" | "text" => text("text"),
        // An earlier refusal, replayed as assistant text.
        "refusal" => text("refusal"),
        "input_image" | "input_file" if role != "user" => Err(format!(
            "{at}.type `{ty}` is only allowed in a user message"
        )),
        "input_image" => {
            let url = match part.get("image_url") {
                Some(Value::String(u)) => u.as_str(),
                // Tolerate the Chat shape `{"url": …}`.
                Some(Value::Object(o)) => o
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{at}.image_url.url is missing"))?,
                _ if part.get("file_id").is_some() => {
                    return Err(format!(
                        "{at}.file_id cannot be resolved by the gateway; send `image_url` (an http(s) or data: URL)"
                    ));
                }
                _ => return Err(format!("{at}.image_url is missing")),
            };
            let mut image = Obj::new();
            image.insert("url".into(), url.into());
            if let Some(d) = part.get("detail").filter(|d| d.is_string()) {
                image.insert("detail".into(), d.clone());
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        "input_file" => {
            let mut file = Obj::new();
            for k in ["file_data", "file_id", "filename"] {
                if let Some(v) = part.get(k).filter(|v| v.is_string()) {
                    file.insert(k.into(), v.clone());
                }
            }
            if !file.contains_key("file_data") && !file.contains_key("file_id") {
                return Err(format!(
                    "{at}: only `file_data` or `file_id` files can be translated"
                ));
            }
            Ok(json!({"type": "file", "file": file}))
        }
        other => Err(format!(
            "{at}.type `{other}` cannot be translated to Chat Completions"
        )),
    }
}

fn join_text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

/// A Responses message item as a Chat message.
fn chat_message(item: &Value, at: &str) -> Result<Value, String> {
    let role = item
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.role is missing"))?;
    let chat_role = match role {
        "user" => "user",
        "assistant" => "assistant",
        // `developer` is not understood by every OpenAI-compatible server.
        "system" | "developer" => "system",
        other => return Err(format!("{at}.role `{other}` is not supported")),
    };
    let parts = match item.get("content") {
        Some(Value::String(s)) => return Ok(json!({"role": chat_role, "content": s})),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| chat_part(p, chat_role, &format!("{at}.content[{j}]")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(format!(
                "{at}.content must be a string or a list of content parts"
            ));
        }
    };
    let content = if chat_role != "user" {
        // Only text reaches here for system and assistant messages.
        Value::String(join_text(&parts))
    } else if parts.len() == 1 && parts[0]["type"] == "text" {
        parts[0]["text"].clone()
    } else {
        Value::Array(parts)
    };
    Ok(json!({"role": chat_role, "content": content}))
}

/// The text of a `function_call_output` item's `output`.
fn tool_output(output: Option<&Value>, at: &str) -> Result<String, String> {
    match output {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text" | "text") => {
                        text.push_str(p.get("text").and_then(Value::as_str).unwrap_or(""));
                    }
                    other => {
                        return Err(format!(
                            "{at}.output[{j}].type `{}` cannot be translated to a Chat tool result (text only)",
                            other.unwrap_or("?")
                        ));
                    }
                }
            }
            Ok(text)
        }
        None | Some(Value::Null) => Err(format!("{at}.output is missing")),
        Some(other) => Ok(other.to_string()),
    }
}

/// Appends an assistant tool call, merging it into the previous assistant
/// message when that message is one of this request's (`from` on).
fn push_tool_call(out: &mut Vec<Value>, from: usize, call: Value) {
    if out.len() > from
        && let Some(last) = out.last_mut()
        && last["role"] == "assistant"
    {
        match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
            Some(calls) => calls.push(call),
            None => last["tool_calls"] = Value::Array(vec![call]),
        }
        return;
    }
    out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
}

fn function_call(item: &Value, at: &str) -> Result<Value, String> {
    let s = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.{k} is missing"))
    };
    let arguments = match item.get("arguments") {
        Some(Value::String(a)) => a.clone(),
        None | Some(Value::Null) => "{}".to_owned(),
        Some(other) => other.to_string(),
    };
    Ok(json!({
        "id": s("call_id")?,
        "type": "function",
        "function": {"name": s("name")?, "arguments": arguments},
    }))
}

fn chat_tools(tools: &Value) -> Result<Value, String> {
    let tools = tools.as_array().ok_or("`tools` must be a list of tools")?;
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => {
                let mut f = Obj::new();
                f.insert(
                    "name".into(),
                    tool.get("name")
                        .filter(|n| n.is_string())
                        .cloned()
                        .ok_or_else(|| format!("tools[{i}].name is missing"))?,
                );
                for k in ["description", "parameters", "strict"] {
                    if let Some(v) = tool.get(k).filter(|v| !v.is_null()) {
                        f.insert(k.into(), v.clone());
                    }
                }
                out.push(json!({"type": "function", "function": f}));
            }
            Some(other) => {
                return Err(format!(
                    "tools[{i}].type `{other}` has no Chat Completions equivalent (only function tools can be translated)"
                ));
            }
            None => return Err(format!("tools[{i}].type is missing")),
        }
    }
    Ok(Value::Array(out))
}

fn chat_tool_choice(choice: &Value) -> Result<Value, String> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::String(s) => Err(format!("tool_choice `{s}` is not supported")),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("tool_choice.name is missing")?;
                Ok(json!({"type": "function", "function": {"name": name}}))
            }
            other => Err(format!(
                "tool_choice.type `{}` has no Chat Completions equivalent",
                other.unwrap_or("?")
            )),
        },
        _ => Err("tool_choice must be a string or an object".to_owned()),
    }
}

fn chat_response_format(format: &Value) -> Result<Option<Value>, String> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut s = Obj::new();
            s.insert(
                "name".into(),
                format
                    .get("name")
                    .filter(|n| n.is_string())
                    .cloned()
                    .ok_or("text.format.name is missing")?,
            );
            s.insert(
                "schema".into(),
                format
                    .get("schema")
                    .filter(|v| v.is_object())
                    .cloned()
                    .ok_or("text.format.schema is missing")?,
            );
            for k in ["description", "strict"] {
                if let Some(v) = format.get(k).filter(|v| !v.is_null()) {
                    s.insert(k.into(), v.clone());
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": s})))
        }
        other => Err(format!(
            "text.format.type `{}` cannot be translated",
            other.unwrap_or("?")
        )),
    }
}

/// Translates a Responses request into a Chat Completions request for
/// `model`. `history` is the earlier turns' Chat messages (what was stored for
/// `previous_response_id`); they follow the system message built from
/// `instructions`, before this request's `input`.
pub fn responses_to_chat_request(
    req: &Value,
    history: &[Value],
    model: &str,
) -> Result<Value, String> {
    for (field, why) in [
        (
            "prompt",
            "stored prompt templates cannot be resolved by the gateway",
        ),
        (
            "conversation",
            "conversations are not supported; use `previous_response_id`",
        ),
    ] {
        if req.get(field).is_some_and(|v| !v.is_null()) {
            return Err(format!("`{field}`: {why}"));
        }
    }
    let mut messages: Vec<Value> = Vec::with_capacity(history.len() + 2);
    if let Some(i) = req
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        messages.push(json!({"role": "system", "content": i}));
    }
    messages.extend(history.iter().cloned());
    let from = messages.len();
    match req.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("input[{i}]");
                let ty = match item.get("type") {
                    Some(Value::String(t)) => t.as_str(),
                    None | Some(Value::Null) if item.get("role").is_some() => "message",
                    _ => return Err(format!("{at}.type is missing")),
                };
                match ty {
                    "message" => messages.push(chat_message(item, &at)?),
                    "function_call" => {
                        push_tool_call(&mut messages, from, function_call(item, &at)?);
                    }
                    "function_call_output" => {
                        let id = item
                            .get("call_id")
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("{at}.call_id is missing"))?;
                        let content = tool_output(item.get("output"), &at)?;
                        messages
                            .push(json!({"role": "tool", "tool_call_id": id, "content": content}));
                    }
                    // Reasoning has no Chat Completions form.
                    "reasoning" => {}
                    "item_reference" => {
                        return Err(format!(
                            "{at}: `item_reference` items cannot be resolved by the gateway; send the item itself"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "{at}.type `{other}` cannot be translated to Chat Completions"
                        ));
                    }
                }
            }
        }
        _ => return Err(INPUT_ERROR.to_owned()),
    }

    let mut o = Obj::new();
    o.insert("model".into(), model.into());
    o.insert("messages".into(), Value::Array(messages));
    if let Some(m) = req.get("max_output_tokens").filter(|v| !v.is_null()) {
        // `max_tokens` rather than `max_completion_tokens`: every
        // OpenAI-compatible server understands it.
        o.insert("max_tokens".into(), m.clone());
    }
    for k in [
        "temperature",
        "top_p",
        "parallel_tool_calls",
        "user",
        "metadata",
    ] {
        if let Some(v) = req.get(k).filter(|v| !v.is_null()) {
            o.insert(k.into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        o.insert("stream".into(), true.into());
        o.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(e) = req.pointer("/reasoning/effort").filter(|v| v.is_string()) {
        o.insert("reasoning_effort".into(), e.clone());
    }
    if let Some(t) = req.get("tools").filter(|v| !v.is_null()) {
        let tools = chat_tools(t)?;
        if tools.as_array().is_some_and(|t| !t.is_empty()) {
            o.insert("tools".into(), tools);
        }
    }
    if let Some(c) = req.get("tool_choice").filter(|v| !v.is_null()) {
        o.insert("tool_choice".into(), chat_tool_choice(c)?);
    }
    if let Some(f) = req.pointer("/text/format").filter(|v| !v.is_null())
        && let Some(rf) = chat_response_format(f)?
    {
        o.insert("response_format".into(), rf);
    }
    Ok(Value::Object(o))
}

/// Request fields that [`responses_to_chat_request`] drops because Chat
/// Completions has no equivalent (present, non-null, non-default only), for
/// the caller to log.
pub fn dropped_fields(req: &Value) -> Vec<&'static str> {
    const FIELDS: [&str; 13] = [
        "/reasoning/summary",
        "/reasoning/generate_summary",
        "/truncation",
        "/include",
        "/text/verbosity",
        "/background",
        "/service_tier",
        "/prompt_cache_key",
        "/safety_identifier",
        "/top_logprobs",
        "/max_tool_calls",
        "/stream_options",
        "/context_management",
    ];
    FIELDS
        .iter()
        .filter(|p| {
            req.pointer(p).is_some_and(|v| match v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => s != "disabled",
                Value::Array(a) => !a.is_empty(),
                _ => true,
            })
        })
        .map(|p| &p[1..])
        .map(|p| match p {
            "reasoning/summary" => "reasoning.summary",
            "reasoning/generate_summary" => "reasoning.generate_summary",
            "text/verbosity" => "text.verbosity",
            other => other,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Responses: Chat → Responses

/// What a Responses `response` object needs besides the completion: its id
/// (`resp_…`), creation time, the model name to report, and the original
/// Responses request (its settings are echoed in the response).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseCtx {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub request: Value,
}

impl ResponseCtx {
    fn suffix(&self) -> &str {
        self.id.strip_prefix("resp_").unwrap_or(&self.id)
    }

    /// Id of the `n`th message item (`msg_<suffix>`, then `msg_<suffix>_<n>`).
    fn message_id(&self, n: usize) -> String {
        if n == 0 {
            format!("msg_{}", self.suffix())
        } else {
            format!("msg_{}_{n}", self.suffix())
        }
    }

    /// Id of the `n`th function call item (`fc_<suffix>_<n>`).
    fn call_item_id(&self, n: usize) -> String {
        format!("fc_{}_{n}", self.suffix())
    }
}

/// The end of a response: `finish_reason` → (status, incomplete_details).
fn end_state(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// Chat usage as Responses usage (`null` when the upstream gave none).
fn responses_usage(usage: Option<&Value>) -> Value {
    let Some(u) = usage.filter(|u| u.is_object()) else {
        return Value::Null;
    };
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("/prompt_tokens"), n("/completion_tokens"));
    let total = u
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(input + output);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens")},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": total,
    })
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

fn refusal_part(text: &str) -> Value {
    json!({"type": "refusal", "refusal": text})
}

fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call", "id": id, "call_id": call_id, "name": name,
        "arguments": arguments, "status": status,
    })
}

/// The `response` object around `output`, echoing the request's settings.
fn response_object(
    ctx: &ResponseCtx,
    status: &str,
    incomplete: Value,
    output: Vec<Value>,
    usage: Value,
    error: Value,
) -> Value {
    let r = &ctx.request;
    let echo = |k: &str, default: Value| {
        r.get(k)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    json!({
        "id": ctx.id,
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "model": ctx.model,
        "output": output,
        "usage": usage,
        "instructions": echo("instructions", Value::Null),
        "tools": echo("tools", json!([])),
        "tool_choice": echo("tool_choice", json!("auto")),
        "temperature": echo("temperature", Value::Null),
        "top_p": echo("top_p", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
        "previous_response_id": echo("previous_response_id", Value::Null),
        "store": echo("store", json!(true)),
        "metadata": echo("metadata", json!({})),
        "text": echo("text", json!({"format": {"type": "text"}})),
        "reasoning": echo("reasoning", json!({"effort": null, "summary": null})),
        "truncation": echo("truncation", json!("disabled")),
        "user": echo("user", Value::Null),
    })
}

/// Marks the last output item `incomplete` (the one the limit cut short).
fn mark_last_incomplete(output: &mut [Value], status: &str) {
    if status == "incomplete"
        && let Some(last) = output.last_mut()
    {
        last["status"] = "incomplete".into();
    }
}

/// A non-streamed Chat completion as a Responses `response` object. Output
/// items: one `message` (when there is text or a refusal), then one
/// `function_call` per tool call, with ids derived from `ctx.id`.
pub fn chat_to_responses_response(chat: &Value, ctx: &ResponseCtx) -> Value {
    let choice = chat.pointer("/choices/0").unwrap_or(&Value::Null);
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let (status, incomplete) = end_state(choice.get("finish_reason").and_then(Value::as_str));
    let mut output = Vec::new();
    let mut content = Vec::new();
    let text = match msg.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => join_text(parts),
        _ => String::new(),
    };
    if !text.is_empty() {
        content.push(text_part(&text));
    }
    if let Some(r) = msg
        .get("refusal")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        content.push(refusal_part(r));
    }
    if !content.is_empty() {
        output.push(message_item(&ctx.message_id(0), "completed", content));
    }
    for (n, tc) in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let s = |p: &str| tc.pointer(p).and_then(Value::as_str).unwrap_or("");
        let item_id = ctx.call_item_id(n);
        let call_id = match s("/id") {
            "" => format!("call_{}_{n}", ctx.suffix()),
            id => id.to_owned(),
        };
        output.push(call_item(
            &item_id,
            &call_id,
            s("/function/name"),
            s("/function/arguments"),
            "completed",
        ));
    }
    mark_last_incomplete(&mut output, status);
    response_object(
        ctx,
        status,
        incomplete,
        output,
        responses_usage(chat.get("usage")),
        Value::Null,
    )
}

/// The Chat messages that represent a finished Responses `response` object's
/// output (normally one assistant message with text and/or `tool_calls`),
/// to store as history for `previous_response_id`.
pub fn chat_turn_messages(resp: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let text: String = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        p.get("text")
                            .or_else(|| p.get("refusal"))
                            .and_then(Value::as_str)
                    })
                    .collect();
                match out.last_mut() {
                    Some(last) if last.get("tool_calls").is_none() => {
                        let prev = last["content"].as_str().unwrap_or("").to_owned();
                        last["content"] = (prev + &text).into();
                    }
                    _ => out.push(json!({"role": "assistant", "content": text})),
                }
            }
            Some("function_call") => {
                let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
                let call = json!({
                    "id": s("call_id"), "type": "function",
                    "function": {"name": s("name"), "arguments": s("arguments")},
                });
                push_tool_call(&mut out, 0, call);
            }
            _ => {}
        }
    }
    out
}

/// The non-system messages of a translated Chat request: the history that
/// was passed to [`responses_to_chat_request`] *and* this request's input.
/// Store `request_turn_messages(&chat_req)` followed by
/// [`chat_turn_messages`] of the response as the next turn's history (do not
/// prepend the history again). Like `instructions`, system and developer
/// messages are not carried over.
pub fn request_turn_messages(chat_req: &Value) -> Vec<Value> {
    chat_req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("role").and_then(Value::as_str) != Some("system"))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// Streams: chat.completion.chunk → Responses events

enum Item {
    /// A message: its id and content parts (refusal?, text); `open` while
    /// deltas may still arrive.
    Message {
        id: String,
        parts: Vec<(bool, String)>,
        open: bool,
    },
    /// A function call; `index` is the Chat tool call index while open.
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        index: Option<u64>,
    },
}

impl Item {
    fn value(&self, status: &str) -> Value {
        match self {
            Item::Message { id, parts, .. } => message_item(
                id,
                status,
                parts
                    .iter()
                    .map(|(r, t)| if *r { refusal_part(t) } else { text_part(t) })
                    .collect(),
            ),
            Item::Call {
                id,
                call_id,
                name,
                arguments,
                ..
            } => call_item(id, call_id, name, arguments, status),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Item::Message { open, .. } => *open,
            Item::Call { index, .. } => index.is_some(),
        }
    }
}

/// Chat `chat.completion.chunk`s → Responses stream events, each
/// `(Some(event name), data)` with a `sequence_number` counting from 0.
///
/// Text opens a `message` item that is closed when the first tool call
/// starts (text after that opens a new message item). Tool calls stay open
/// until `finish_reason` (Chat may interleave their argument fragments by
/// `index`), then close in output order. [`finish`](Self::finish) emits
/// `response.completed` (or `response.incomplete`) with the full response,
/// equal to what [`chat_to_responses_response`] gives for the same
/// completion.
pub struct ChatToResponsesStream {
    ctx: ResponseCtx,
    seq: u64,
    started: bool,
    items: Vec<Item>,
    messages: usize,
    calls: usize,
    finish: Option<String>,
    usage: Option<Value>,
    response: Option<Value>,
}

impl ChatToResponsesStream {
    pub fn new(ctx: ResponseCtx) -> Self {
        Self {
            ctx,
            seq: 0,
            started: false,
            items: Vec::new(),
            messages: 0,
            calls: 0,
            finish: None,
            usage: None,
            response: None,
        }
    }

    /// The final response object, once [`finish`](Self::finish) or
    /// [`fail`](Self::fail) has run.
    pub fn response(&self) -> Option<&Value> {
        self.response.as_ref()
    }

    /// (prompt, completion) tokens from the upstream's usage chunk, if any.
    pub fn usage(&self) -> (u64, u64) {
        self.usage
            .as_ref()
            .map_or((0, 0), crate::translate::openai_tokens)
    }

    /// Whether the response has ended (finished or failed).
    pub fn done(&self) -> bool {
        self.response.is_some()
    }

    /// Whether the upstream said how the completion ended.
    pub fn finished_upstream(&self) -> bool {
        self.finish.is_some()
    }

    fn emit(&mut self, name: &'static str, mut data: Value, out: &mut Vec<Out>) {
        data["type"] = name.into();
        data["sequence_number"] = self.seq.into();
        self.seq += 1;
        out.push((Some(name), data.to_string()));
    }

    fn start(&mut self, out: &mut Vec<Out>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = response_object(
            &self.ctx,
            "in_progress",
            Value::Null,
            Vec::new(),
            Value::Null,
            Value::Null,
        );
        self.emit("response.created", json!({"response": r}), out);
        self.emit("response.in_progress", json!({"response": r}), out);
    }

    fn close_part(&mut self, i: usize, out: &mut Vec<Out>) {
        let Some(Item::Message { id, parts, .. }) = self.items.get(i) else {
            return;
        };
        let Some((refusal, text)) = parts.last() else {
            return;
        };
        let (id, k, refusal, text) = (id.clone(), parts.len() - 1, *refusal, text.clone());
        let (name, key, part) = if refusal {
            ("response.refusal.done", "refusal", refusal_part(&text))
        } else {
            ("response.output_text.done", "text", text_part(&text))
        };
        let mut done = json!({"item_id": id, "output_index": i, "content_index": k});
        done[key] = text.into();
        if !refusal {
            done["logprobs"] = json!([]);
        }
        self.emit(name, done, out);
        self.emit(
            "response.content_part.done",
            json!({"item_id": id, "output_index": i, "content_index": k, "part": part}),
            out,
        );
    }

    fn close_item(&mut self, i: usize, status: &str, out: &mut Vec<Out>) {
        match self.items.get_mut(i) {
            Some(Item::Message { open, .. }) if *open => {
                *open = false;
                self.close_part(i, out);
            }
            Some(Item::Call {
                id,
                name,
                arguments,
                index,
                ..
            }) if index.is_some() => {
                *index = None;
                let ev =
                    json!({"item_id": id, "output_index": i, "name": name, "arguments": arguments});
                self.emit("response.function_call_arguments.done", ev, out);
            }
            _ => return,
        }
        let item = self.items[i].value(status);
        self.emit(
            "response.output_item.done",
            json!({"output_index": i, "item": item}),
            out,
        );
    }

    fn close_message(&mut self, out: &mut Vec<Out>) {
        if let Some(i) = self
            .items
            .iter()
            .position(|it| matches!(it, Item::Message { open: true, .. }))
        {
            self.close_item(i, "completed", out);
        }
    }

    /// Closes every open item; the last output item is `status`, the others
    /// `completed`.
    fn close_all(&mut self, status: &str, out: &mut Vec<Out>) {
        let last = self.items.len().saturating_sub(1);
        for i in 0..self.items.len() {
            if self.items[i].is_open() {
                let s = if i == last { status } else { "completed" };
                self.close_item(i, s, out);
            }
        }
    }

    /// Text (or refusal) delta for the open message item, opening the item
    /// and/or a new content part as needed.
    fn text(&mut self, refusal: bool, delta: &str, out: &mut Vec<Out>) {
        let open = self
            .items
            .iter()
            .position(|it| matches!(it, Item::Message { open: true, .. }));
        let i = match open {
            Some(i) => i,
            None => {
                let id = self.ctx.message_id(self.messages);
                self.messages += 1;
                let item = Item::Message {
                    id,
                    parts: Vec::new(),
                    open: true,
                };
                let i = self.items.len();
                let ev = json!({"output_index": i, "item": item.value("in_progress")});
                self.items.push(item);
                self.emit("response.output_item.added", ev, out);
                i
            }
        };
        let same_part = matches!(&self.items[i], Item::Message { parts, .. } if parts.last().is_some_and(|(r, _)| *r == refusal));
        if !same_part {
            self.close_part(i, out);
            let Item::Message { id, parts, .. } = &mut self.items[i] else {
                return;
            };
            parts.push((refusal, String::new()));
            let ev = json!({
                "item_id": id, "output_index": i, "content_index": parts.len() - 1,
                "part": if refusal { refusal_part("") } else { text_part("") },
            });
            self.emit("response.content_part.added", ev, out);
        }
        let Item::Message { id, parts, .. } = &mut self.items[i] else {
            return;
        };
        let k = parts.len() - 1;
        if let Some((_, t)) = parts.last_mut() {
            t.push_str(delta);
        }
        let mut ev = json!({"item_id": id, "output_index": i, "content_index": k, "delta": delta});
        let name = if refusal {
            "response.refusal.delta"
        } else {
            ev["logprobs"] = json!([]);
            "response.output_text.delta"
        };
        self.emit(name, ev, out);
    }

    fn tool_call(&mut self, tc: &Value, out: &mut Vec<Out>) {
        let index = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
        let new_id = tc
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let name = tc
            .pointer("/function/name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let open = self.items.iter().position(
            |it| matches!(it, Item::Call { index: Some(x), call_id, .. } if *x == index && new_id.is_none_or(|n| n == call_id)),
        );
        let i = match open {
            Some(i) => {
                // Late name (some servers send it after the id).
                if let (Some(n), Item::Call { name: cur, .. }) = (name, &mut self.items[i])
                    && cur.is_empty()
                {
                    n.clone_into(cur);
                }
                i
            }
            None => {
                self.close_message(out);
                // An id reused with the same index means a new call: retire the old index.
                for it in &mut self.items {
                    if let Item::Call { index: x, .. } = it
                        && *x == Some(index)
                    {
                        *x = Some(u64::MAX);
                    }
                }
                let n = self.calls;
                self.calls += 1;
                let item = Item::Call {
                    id: self.ctx.call_item_id(n),
                    call_id: new_id
                        .map_or_else(|| format!("call_{}_{n}", self.ctx.suffix()), str::to_owned),
                    name: name.unwrap_or("").to_owned(),
                    arguments: String::new(),
                    index: Some(index),
                };
                let i = self.items.len();
                let ev = json!({"output_index": i, "item": item.value("in_progress")});
                self.items.push(item);
                self.emit("response.output_item.added", ev, out);
                i
            }
        };
        if let Some(args) = tc
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            && let Item::Call { id, arguments, .. } = &mut self.items[i]
        {
            arguments.push_str(args);
            let ev = json!({"item_id": id, "output_index": i, "delta": args});
            self.emit("response.function_call_arguments.delta", ev, out);
        }
    }

    /// Translates one chunk's data. `[DONE]` and anything that is not JSON
    /// are ignored; call [`finish`](Self::finish) at the end of the stream.
    /// A chunk carrying `error` fails the response.
    pub fn push(&mut self, data: &str, out: &mut Vec<Out>) {
        if self.done() {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if !chunk.is_object() {
            return;
        }
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            let msg = err
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| err.as_str())
                .unwrap_or("upstream error")
                .to_owned();
            self.fail(&msg, out);
            return;
        }
        self.start(out);
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(t) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.text(false, t, out);
        }
        if let Some(t) = delta
            .get("refusal")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.text(true, t, out);
        }
        for tc in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.tool_call(tc, out);
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
            let (status, _) = end_state(Some(f));
            self.close_all(status, out);
        }
    }

    fn output(&self, status: &str) -> Vec<Value> {
        let mut output: Vec<Value> = self.items.iter().map(|it| it.value("completed")).collect();
        mark_last_incomplete(&mut output, status);
        output
    }

    /// Closes what is still open and emits `response.completed` (or
    /// `response.incomplete` when the upstream stopped at a limit). Once.
    pub fn finish(&mut self, out: &mut Vec<Out>) {
        if self.done() {
            return;
        }
        self.start(out);
        let (status, incomplete) = end_state(self.finish.as_deref());
        self.close_all(status, out);
        let r = response_object(
            &self.ctx,
            status,
            incomplete,
            self.output(status),
            responses_usage(self.usage.as_ref()),
            Value::Null,
        );
        let name = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(name, json!({"response": r}), out);
        self.response = Some(r);
    }

    /// Ends the response with `response.failed` (status `failed`, error
    /// `server_error` with `message`); items still open are reported
    /// `incomplete`. Once; nothing is emitted after it.
    pub fn fail(&mut self, message: &str, out: &mut Vec<Out>) {
        if self.done() {
            return;
        }
        self.start(out);
        let output = self
            .items
            .iter()
            .map(|it| {
                it.value(if it.is_open() {
                    "incomplete"
                } else {
                    "completed"
                })
            })
            .collect();
        let r = response_object(
            &self.ctx,
            "failed",
            Value::Null,
            output,
            responses_usage(self.usage.as_ref()),
            json!({"code": "server_error", "message": message}),
        );
        self.emit("response.failed", json!({"response": r}), out);
        self.response = Some(r);
    }
}
