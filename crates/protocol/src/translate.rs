//! OpenAI Chat Completions ⇄ Anthropic Messages, both directions, requests,
//! responses and streams. Pure functions over JSON values (no I/O), so every
//! field we do not translate is visible in one place and tests can drive any
//! input. Errors say what cannot be translated and where
//! (`messages[3].tool_calls[0].function.arguments`).

use serde_json::{Map, Value, json};

/// `max_tokens` sent to Anthropic when an OpenAI client gives none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The thinking budget in tokens for an OpenAI `reasoning_effort` (`low`,
/// `medium`, `high`), for upstreams that take a budget (Anthropic's extended
/// thinking, Gemini's `thinkingBudget`); `None` for no thinking
/// (`minimal`, `none`) or an unknown value.
pub fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

type Obj = Map<String, Value>;

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Stop reasons and usage

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn finish_to_stop(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        _ => "end_turn",
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn stop_to_finish(stop: &str) -> &'static str {
    match stop {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Anthropic usage → (prompt, completion) tokens; cached input counts as prompt.
pub fn anthropic_tokens(usage: &Value) -> (u64, u64) {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    (
        n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens"),
        n("output_tokens"),
    )
}

/// OpenAI usage → (prompt, completion) tokens.
pub fn openai_tokens(usage: &Value) -> (u64, u64) {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    (n("prompt_tokens"), n("completion_tokens"))
}

// ---------------------------------------------------------------------------
// Requests: OpenAI → Anthropic

/// An image URL as an Anthropic image source: data URLs become base64 sources.
fn image_source(url: &str, at: &str) -> Result<Value, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| format!("{at}: malformed data URL"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| format!("{at}: only base64 data URLs can be translated"))?;
        return Ok(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(json!({"type": "url", "url": url}));
    }
    Err(format!("{at}: image URL must be a data: or http(s) URL"))
}

fn openai_user_blocks(content: &Value, at: &str) -> Result<Value, String> {
    match content {
        Value::String(s) => Ok(Value::String(s.clone())),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let at = format!("{at}.content[{j}]");
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => blocks.push(json!({"type": "text", "text": p.get("text").and_then(Value::as_str).unwrap_or("")})),
                    Some("image_url") => {
                        let url = p.pointer("/image_url/url").and_then(Value::as_str).ok_or_else(|| format!("{at}.image_url.url is missing"))?;
                        blocks.push(json!({"type": "image", "source": image_source(url, &at)?}));
                    }
                    other => return Err(format!("{at}.type `{}` cannot be translated to Anthropic", other.unwrap_or("?"))),
                }
            }
            Ok(Value::Array(blocks))
        }
        Value::Null => Ok(Value::String(String::new())),
        _ => Err(format!(
            "{at}.content must be a string or an array of parts"
        )),
    }
}

fn as_blocks(content: Value) -> Vec<Value> {
    match content {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Appends a message, merging it into the previous one when the role repeats
/// (Anthropic requires alternating roles).
fn push_message(out: &mut Vec<Value>, role: &str, content: Value) {
    if let Some(last) = out.last_mut()
        && last["role"] == role
    {
        let mut blocks = as_blocks(last["content"].take());
        blocks.extend(as_blocks(content));
        last["content"] = Value::Array(blocks);
        return;
    }
    out.push(json!({"role": role, "content": content}));
}

/// Translates an OpenAI chat request into an Anthropic Messages request.
pub fn openai_to_anthropic_request(req: &Value, model: &str) -> Result<Value, String> {
    let msgs = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be an array")?;
    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.role is missing"))?;
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.push(text_of(content)),
            "user" => push_message(&mut out, "user", openai_user_blocks(content, &at)?),
            "assistant" => {
                let mut blocks = as_blocks(openai_user_blocks(content, &at)?);
                for (k, tc) in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let args = tc
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let input: Value = if args.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(args).map_err(|e| {
                            format!(
                                "{at}.tool_calls[{k}].function.arguments is not valid JSON: {e}"
                            )
                        })?
                    };
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": tc.get("id").and_then(Value::as_str).unwrap_or(""),
                        "name": tc.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
                        "input": input,
                    }));
                }
                push_message(&mut out, "assistant", Value::Array(blocks));
            }
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{at}.tool_call_id is missing"))?;
                let block =
                    json!({"type": "tool_result", "tool_use_id": id, "content": text_of(content)});
                push_message(&mut out, "user", Value::Array(vec![block]));
            }
            other => {
                return Err(format!(
                    "{at}.role `{other}` cannot be translated to Anthropic"
                ));
            }
        }
    }
    let mut a = Obj::new();
    a.insert("model".into(), model.into());
    a.insert("messages".into(), Value::Array(out));
    let sys = system
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if !sys.is_empty() {
        a.insert("system".into(), sys.into());
    }
    let mut max = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    // reasoning_effort → extended thinking, which Anthropic allows only
    // without a forced tool, with the default temperature, top_p ≥ 0.95,
    // and a budget below max_tokens (raised to leave room for the answer).
    // A conversation that already holds tool calls gets none: Anthropic then
    // wants the earlier turns' thinking blocks back, which an OpenAI client
    // never had.
    let forced_tool = matches!(
        req.get("tool_choice"),
        Some(Value::String(s)) if s == "required"
    ) || req.get("tool_choice").is_some_and(Value::is_object);
    let tool_history = req
        .get("messages")
        .and_then(Value::as_array)
        .is_some_and(|ms| {
            ms.iter().any(|m| {
                m.get("tool_calls")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty())
            })
        });
    let thinking = req
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .and_then(thinking_budget)
        .filter(|_| !forced_tool && !tool_history);
    if let Some(budget) = thinking {
        if max <= budget {
            max += budget;
        }
        a.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    a.insert("max_tokens".into(), max.into());
    if let Some(t) = req.get("temperature").and_then(Value::as_f64)
        && thinking.is_none()
    {
        a.insert("temperature".into(), t.clamp(0.0, 1.0).into());
    }
    if let Some(p) = req.get("top_p") {
        let p = match (thinking, p.as_f64()) {
            (Some(_), Some(f)) => json!(f.clamp(0.95, 1.0)),
            _ => p.clone(),
        };
        a.insert("top_p".into(), p);
    }
    match req.get("stop") {
        Some(Value::String(s)) => {
            a.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(v)) if !v.is_empty() => {
            a.insert("stop_sequences".into(), Value::Array(v.clone()));
        }
        _ => {}
    }
    if let Some(s) = req.get("stream").and_then(Value::as_bool) {
        a.insert("stream".into(), s.into());
    }
    if let Some(u) = req.get("user").and_then(Value::as_str) {
        a.insert("metadata".into(), json!({"user_id": u}));
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let mut t = Vec::with_capacity(tools.len());
        for (i, tool) in tools.iter().enumerate() {
            let f = tool.get("function").ok_or_else(|| {
                format!("tools[{i}].function is missing (only function tools can be translated)")
            })?;
            let mut o = Obj::new();
            o.insert(
                "name".into(),
                f.get("name")
                    .cloned()
                    .ok_or_else(|| format!("tools[{i}].function.name is missing"))?,
            );
            if let Some(d) = f.get("description") {
                o.insert("description".into(), d.clone());
            }
            o.insert(
                "input_schema".into(),
                f.get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            );
            t.push(Value::Object(o));
        }
        a.insert("tools".into(), Value::Array(t));
    }
    let mut choice = match req.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => Some(json!({"type": "none"})),
        Some(Value::String(s)) if s == "required" => Some(json!({"type": "any"})),
        Some(Value::String(_)) => Some(json!({"type": "auto"})),
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|n| json!({"type": "tool", "name": n})),
        _ => None,
    };
    if req.get("parallel_tool_calls") == Some(&Value::Bool(false)) && a.contains_key("tools") {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = true.into();
        }
    }
    if let Some(c) = choice {
        a.insert("tool_choice".into(), c);
    }
    Ok(Value::Object(a))
}

// ---------------------------------------------------------------------------
// Requests: Anthropic → OpenAI

fn anthropic_part(block: &Value, at: &str) -> Result<Option<Value>, String> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Some(
            json!({"type": "text", "text": block.get("text").and_then(Value::as_str).unwrap_or("")}),
        )),
        Some("image") => {
            let src = block
                .get("source")
                .ok_or_else(|| format!("{at}.source is missing"))?;
            let url = match src.get("type").and_then(Value::as_str) {
                Some("base64") => format!(
                    "data:{};base64,{}",
                    src.get("media_type")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png"),
                    src.get("data").and_then(Value::as_str).unwrap_or("")
                ),
                Some("url") => src
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                other => {
                    return Err(format!(
                        "{at}.source.type `{}` cannot be translated to OpenAI",
                        other.unwrap_or("?")
                    ));
                }
            };
            Ok(Some(
                json!({"type": "image_url", "image_url": {"url": url}}),
            ))
        }
        // Extended thinking has no Chat Completions equivalent.
        Some("thinking" | "redacted_thinking") => Ok(None),
        other => Err(format!(
            "{at}.type `{}` cannot be translated to OpenAI",
            other.unwrap_or("?")
        )),
    }
}

/// Parts as OpenAI content: a plain string when every part is text.
fn openai_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        Value::String(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
        )
    } else {
        Value::Array(parts)
    }
}

/// Translates an Anthropic Messages request into an OpenAI chat request.
pub fn anthropic_to_openai_request(req: &Value, model: &str) -> Result<Value, String> {
    let msgs = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be an array")?;
    let mut out: Vec<Value> = Vec::with_capacity(msgs.len() + 1);
    if let Some(sys) = req.get("system") {
        let s = text_of(sys);
        if !s.is_empty() {
            out.push(json!({"role": "system", "content": s}));
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.role is missing"))?;
        let blocks: Vec<Value> = match m.get("content") {
            Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(format!(
                    "{at}.content must be a string or an array of blocks"
                ));
            }
        };
        match role {
            "user" => {
                let mut parts = Vec::new();
                for (j, b) in blocks.iter().enumerate() {
                    let bat = format!("{at}.content[{j}]");
                    if b.get("type").and_then(Value::as_str) == Some("tool_result") {
                        // Tool results become `tool` messages, right after the assistant's calls.
                        let mut text = b.get("content").map(text_of).unwrap_or_default();
                        if b.get("is_error") == Some(&Value::Bool(true)) {
                            text = format!("Error: {text}");
                        }
                        out.push(json!({
                            "role": "tool",
                            "tool_call_id": b.get("tool_use_id").and_then(Value::as_str).ok_or_else(|| format!("{bat}.tool_use_id is missing"))?,
                            "content": text,
                        }));
                    } else if let Some(p) = anthropic_part(b, &bat)? {
                        parts.push(p);
                    }
                }
                if !parts.is_empty() {
                    out.push(json!({"role": "user", "content": openai_content(parts)}));
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for (j, b) in blocks.iter().enumerate() {
                    match b.get("type").and_then(Value::as_str) {
                        Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
                        Some("tool_use") => calls.push(json!({
                            "id": b.get("id").and_then(Value::as_str).unwrap_or(""),
                            "type": "function",
                            "function": {
                                "name": b.get("name").and_then(Value::as_str).unwrap_or(""),
                                "arguments": b.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
                            },
                        })),
                        Some("thinking" | "redacted_thinking") => {}
                        other => return Err(format!("{at}.content[{j}].type `{}` cannot be translated to OpenAI", other.unwrap_or("?"))),
                    }
                }
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                out.push(msg);
            }
            other => {
                return Err(format!(
                    "{at}.role `{other}` cannot be translated to OpenAI"
                ));
            }
        }
    }
    let mut o = Obj::new();
    o.insert("model".into(), model.into());
    o.insert("messages".into(), Value::Array(out));
    if let Some(m) = req.get("max_tokens") {
        o.insert("max_tokens".into(), m.clone());
    }
    for k in ["temperature", "top_p"] {
        if let Some(v) = req.get(k) {
            o.insert(k.into(), v.clone());
        }
    }
    if let Some(s) = req
        .get("stop_sequences")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    {
        o.insert("stop".into(), Value::Array(s.clone()));
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        o.insert("stream".into(), true.into());
        o.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(u) = req.pointer("/metadata/user_id") {
        o.insert("user".into(), u.clone());
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let mut t = Vec::with_capacity(tools.len());
        for (i, tool) in tools.iter().enumerate() {
            let Some(schema) = tool.get("input_schema") else {
                return Err(format!(
                    "tools[{i}] is a server tool (`{}`) and cannot be offered to an OpenAI upstream",
                    tool.get("type").and_then(Value::as_str).unwrap_or("?")
                ));
            };
            let mut f = Obj::new();
            f.insert("name".into(), tool.get("name").cloned().unwrap_or_default());
            if let Some(d) = tool.get("description") {
                f.insert("description".into(), d.clone());
            }
            f.insert("parameters".into(), schema.clone());
            t.push(json!({"type": "function", "function": f}));
        }
        o.insert("tools".into(), Value::Array(t));
    }
    if let Some(c) = req.get("tool_choice") {
        let v = match c.get("type").and_then(Value::as_str) {
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => {
                json!({"type": "function", "function": {"name": c.get("name").cloned().unwrap_or_default()}})
            }
            _ => json!("auto"),
        };
        o.insert("tool_choice".into(), v);
        if c.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
            o.insert("parallel_tool_calls".into(), false.into());
        }
    }
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------
// Responses

/// An Anthropic Messages response as an OpenAI chat completion.
pub fn anthropic_to_openai_response(resp: &Value, created: u64) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in resp
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": b.get("id").cloned().unwrap_or_default(),
                "type": "function",
                "function": {"name": b.get("name").cloned().unwrap_or_default(), "arguments": b.get("input").map_or_else(|| "{}".to_owned(), Value::to_string)},
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }, "refusal": null});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let (p, c) = anthropic_tokens(resp.get("usage").unwrap_or(&Value::Null));
    json!({
        "id": resp.get("id").cloned().unwrap_or_default(),
        "object": "chat.completion",
        "created": created,
        "model": resp.get("model").cloned().unwrap_or_default(),
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": stop_to_finish(resp.get("stop_reason").and_then(Value::as_str).unwrap_or("end_turn")),
        }],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    })
}

/// Tool-call arguments as an Anthropic `input` object. Arguments that are not
/// a JSON object (a model's malformed output) are kept under `_raw_arguments`
/// rather than lost.
fn tool_input(args: &str) -> Value {
    if args.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"_raw_arguments": args}),
    }
}

/// An OpenAI chat completion as an Anthropic Messages response.
pub fn openai_to_anthropic_response(resp: &Value) -> Value {
    let choice = resp.pointer("/choices/0").unwrap_or(&Value::Null);
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    let text = msg.get("content").map(text_of).unwrap_or_default();
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for tc in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        content.push(json!({
            "type": "tool_use",
            "id": tc.get("id").cloned().unwrap_or_default(),
            "name": tc.pointer("/function/name").cloned().unwrap_or_default(),
            "input": tool_input(tc.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("")),
        }));
    }
    let (p, c) = openai_tokens(resp.get("usage").unwrap_or(&Value::Null));
    json!({
        "id": resp.get("id").cloned().unwrap_or_default(),
        "type": "message",
        "role": "assistant",
        "model": resp.get("model").cloned().unwrap_or_default(),
        "content": content,
        "stop_reason": finish_to_stop(choice.get("finish_reason").and_then(Value::as_str).unwrap_or("stop")),
        "stop_sequence": null,
        "usage": {"input_tokens": p, "output_tokens": c},
    })
}

// ---------------------------------------------------------------------------
// Streams

/// One SSE event to send: optional event name and data.
pub type Out = (Option<&'static str>, String);

/// Anthropic stream events → OpenAI `chat.completion.chunk`s.
pub struct AnthropicToOpenAi {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Anthropic content block index → OpenAI tool call index.
    tool_index: Vec<(u64, u64)>,
    next_tool: u64,
    pub usage: (u64, u64),
    pub done: bool,
}

impl AnthropicToOpenAi {
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            tool_index: Vec::new(),
            next_tool: 0,
            usage: (0, 0),
            done: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> String {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c.to_string()
    }

    /// Translates one event's data; returns the chunks to send.
    pub fn push(&mut self, data: &str, out: &mut Vec<Out>) {
        let Ok(ev) = serde_json::from_str::<Value>(data) else {
            return;
        };
        match ev.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let m = &ev["message"];
                self.id = m
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| "chatcmpl-gateway".to_owned(), |s| s.to_owned());
                if let Some(model) = m.get("model").and_then(Value::as_str) {
                    model.clone_into(&mut self.model);
                }
                self.usage = anthropic_tokens(m.get("usage").unwrap_or(&Value::Null));
                out.push((
                    None,
                    self.chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                ));
            }
            Some("content_block_start") => {
                let b = &ev["content_block"];
                if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let idx = self.next_tool;
                    self.next_tool += 1;
                    self.tool_index
                        .push((ev["index"].as_u64().unwrap_or(0), idx));
                    let delta = json!({"tool_calls": [{"index": idx, "id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": ""}}]});
                    out.push((None, self.chunk(delta, Value::Null)));
                }
            }
            Some("content_block_delta") => {
                let d = &ev["delta"];
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        out.push((None, self.chunk(json!({"content": d["text"]}), Value::Null)))
                    }
                    Some("input_json_delta") => {
                        let block = ev["index"].as_u64().unwrap_or(0);
                        if let Some(&(_, idx)) = self.tool_index.iter().find(|(b, _)| *b == block) {
                            let delta = json!({"tool_calls": [{"index": idx, "function": {"arguments": d["partial_json"]}}]});
                            out.push((None, self.chunk(delta, Value::Null)));
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(u) = ev.get("usage") {
                    let (p, c) = anthropic_tokens(u);
                    if p > 0 {
                        self.usage.0 = p;
                    }
                    self.usage.1 = c;
                }
                if let Some(stop) = ev.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push((None, self.chunk(json!({}), json!(stop_to_finish(stop)))));
                }
            }
            Some("message_stop") => {
                if self.include_usage {
                    let (p, c) = self.usage;
                    let u = json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                        "choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
                    });
                    out.push((None, u.to_string()));
                }
                out.push((None, "[DONE]".to_owned()));
                self.done = true;
            }
            Some("error") => {
                let msg = ev
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                out.push((None, json!({"error": {"message": msg, "type": "api_error", "param": null, "code": null}}).to_string()));
                out.push((None, "[DONE]".to_owned()));
                self.done = true;
            }
            _ => {}
        }
    }
}

/// OpenAI `chat.completion.chunk`s → Anthropic stream events. Tool-call
/// argument fragments become `input_json_delta` events carrying the fragments
/// exactly as they arrive, so concatenated they rebuild the full `input`.
pub struct OpenAiToAnthropic {
    model: String,
    started: bool,
    /// The open content block: its index and whether it is a tool call (with
    /// the OpenAI tool index).
    open: Option<(u64, Option<u64>)>,
    next_block: u64,
    stop_reason: Option<&'static str>,
    pub usage: (u64, u64),
    pub done: bool,
}

impl OpenAiToAnthropic {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            started: false,
            open: None,
            next_block: 0,
            stop_reason: None,
            usage: (0, 0),
            done: false,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<Out>) {
        if self.started {
            return;
        }
        self.started = true;
        let ev = json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0},
        }});
        out.push((Some("message_start"), ev.to_string()));
    }

    fn close_block(&mut self, out: &mut Vec<Out>) {
        if let Some((index, _)) = self.open.take() {
            out.push((
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": index}).to_string(),
            ));
        }
    }

    fn open_block(&mut self, block: Value, tool: Option<u64>, out: &mut Vec<Out>) -> u64 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, tool));
        out.push((
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": index, "content_block": block})
                .to_string(),
        ));
        index
    }

    /// Translates one chunk's data (`[DONE]` included).
    pub fn push(&mut self, data: &str, out: &mut Vec<Out>) {
        if data == "[DONE]" {
            self.finish(out);
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if let Some(err) = chunk.get("error") {
            let msg = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error");
            out.push((
                Some("error"),
                json!({"type": "error", "error": {"type": "api_error", "message": msg}})
                    .to_string(),
            ));
            self.done = true;
            return;
        }
        self.start(
            chunk
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("msg_gateway"),
            out,
        );
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = openai_tokens(u);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = match self.open {
                Some((i, None)) => i,
                _ => self.open_block(json!({"type": "text", "text": ""}), None, out),
            };
            out.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}).to_string()));
        }
        for tc in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tool = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
            let index = match self.open {
                Some((i, Some(t))) if t == tool && tc.get("id").is_none_or(Value::is_null) => i,
                _ => {
                    let block = json!({"type": "tool_use", "id": tc.get("id").cloned().unwrap_or_default(), "name": tc.pointer("/function/name").cloned().unwrap_or_default(), "input": {}});
                    self.open_block(block, Some(tool), out)
                }
            };
            if let Some(args) = tc
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                out.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": args}}).to_string()));
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(finish_to_stop(f));
            self.close_block(out);
        }
    }

    /// Emits whatever closing events are still owed (once).
    pub fn finish(&mut self, out: &mut Vec<Out>) {
        if self.done {
            return;
        }
        self.start("msg_gateway", out);
        self.close_block(out);
        let (p, c) = self.usage;
        out.push((Some("message_delta"), json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
            "usage": {"input_tokens": p, "output_tokens": c},
        }).to_string()));
        out.push((
            Some("message_stop"),
            json!({"type": "message_stop"}).to_string(),
        ));
        self.done = true;
    }

    /// Whether the upstream said how the message ended.
    pub fn finished_upstream(&self) -> bool {
        self.stop_reason.is_some()
    }
}
