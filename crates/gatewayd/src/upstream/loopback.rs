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

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{ApiError, Protocol};

/// A computed reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The reply's text: `loopback:` and the words, each with its leading space.
    text: String,
    /// Where each word of `text` ends (a token each).
    ends: Vec<usize>,
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
            None => self.ends.len() as u64,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `i`th word, with its leading space (but the first).
    fn word(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        &self.text[start..self.ends[i]]
    }
}

/// Rough token count: one per four characters, at least one for any text.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The parts of a chat request (either protocol) the loopback model reads;
/// the rest of the body is skipped, not parsed into a tree, and the tool
/// definitions are parsed only when `tool_choice` could force a call.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Request<'a> {
    system: Option<Value>,
    messages: Option<Value>,
    max_tokens: Option<Value>,
    max_completion_tokens: Option<Value>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_choice: Option<&'a RawValue>,
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

/// The checks a real upstream would make before answering (`messages` is a
/// non-empty array of objects with a role, and Anthropic requests carry
/// `max_tokens`), then the reply. `body` is the request as the client sent it.
pub fn answer(protocol: Protocol, body: &[u8]) -> Result<Reply, ApiError> {
    let bad = |msg: String, param: &str| ApiError::bad_request(protocol, msg).with_param(param);
    let request: Request<'_> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(protocol, format!("request body is not valid: {e}")))?;
    let Some(messages) = request.messages.as_ref().and_then(Value::as_array) else {
        return Err(bad(
            "`messages` must be an array of messages".into(),
            "messages",
        ));
    };
    if messages.is_empty() {
        return Err(bad(
            "`messages` must contain at least one message".into(),
            "messages",
        ));
    }
    for (i, m) in messages.iter().enumerate() {
        if m.get("role").and_then(Value::as_str).is_none() {
            return Err(bad(
                format!("messages[{i}].role is required"),
                &format!("messages[{i}].role"),
            ));
        }
    }
    if protocol == Protocol::Anthropic
        && request
            .max_tokens
            .as_ref()
            .and_then(Value::as_u64)
            .is_none()
    {
        return Err(bad(
            "`max_tokens` is required and must be a positive integer".into(),
            "max_tokens",
        ));
    }
    Ok(reply_to(&request))
}

/// The count_tokens estimate of a chat or messages request: its prompt
/// (system and messages) and its tool definitions.
pub fn request_tokens(request: &Value) -> u64 {
    let messages = request.get("messages").and_then(Value::as_array);
    let (mut tokens, _) = read_prompt(request.get("system"), messages.map_or(&[], Vec::as_slice));
    if let Some(tools) = request.get("tools") {
        tokens += estimate_tokens(&tools.to_string());
    }
    tokens
}

/// The prompt's estimated tokens (system and messages), and the text of the
/// last user message or tool result that has any.
fn read_prompt(system: Option<&Value>, messages: &[Value]) -> (u64, String) {
    let mut prompt = String::new();
    if let Some(system) = system {
        content_text(system, &mut prompt);
    }
    let mut last_user = String::new();
    for m in messages {
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
    (estimate_tokens(&prompt).max(1), last_user)
}

/// Computes the reply to a chat request of either protocol.
fn reply_to(request: &Request<'_>) -> Reply {
    let messages: &[Value] = request
        .messages
        .as_ref()
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let (prompt_tokens, last_user) = read_prompt(request.system.as_ref(), messages);
    let max = request
        .max_tokens
        .as_ref()
        .or(request.max_completion_tokens.as_ref())
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let mut text = String::with_capacity(last_user.len() + 10);
    let mut ends = Vec::new();
    for w in std::iter::once("loopback:").chain(last_user.split_whitespace()) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(w);
        ends.push(text.len());
    }
    let truncated = (ends.len() as u64) > max;
    if truncated {
        ends.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        text.truncate(ends.last().copied().unwrap_or(0));
    }

    let last_is_tool_result = messages.last().is_some_and(|m| {
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
    if tool.is_some() {
        text.clear();
        ends.clear();
    }
    Reply {
        text,
        ends,
        prompt_tokens,
        truncated: truncated && tool.is_none(),
        tool,
    }
}

/// The tool `tool_choice` forces, with arguments built from its schema.
fn forced_tool(request: &Request<'_>, text: &str) -> Option<(String, String)> {
    let choice: Value = serde_json::from_str(request.tool_choice?.get()).ok()?;
    let tools: Value = serde_json::from_str(request.tools?.get()).ok()?;
    let tools = tools.as_array()?;
    let named = match &choice {
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

// The wire shapes of the replies, borrowed from the reply and serialized
// straight into the response body (no intermediate JSON tree).

#[derive(Serialize)]
struct OpenAiUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl OpenAiUsage {
    fn of(r: &Reply) -> Self {
        let (prompt, completion) = (r.prompt_tokens, r.completion_tokens());
        OpenAiUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        }
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: OpenAiUsage,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

/// A tool call, whole (a message's) or a fragment (a stream delta's).
#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent unless the client asked for usage; then `null` but in the last chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<OpenAiUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct AnthropicMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'a [Block<'a>],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<()>,
    usage: AnthropicUsage,
}

#[derive(Serialize)]
struct AnthropicUsage {
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a RawValue,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AnthropicEvent<'a> {
    MessageStart {
        message: AnthropicMessage<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: OutputUsage,
    },
    MessageStop,
}

impl AnthropicEvent<'_> {
    /// The SSE event name: the event's `type`.
    fn name(&self) -> &'static str {
        match self {
            AnthropicEvent::MessageStart { .. } => "message_start",
            AnthropicEvent::ContentBlockStart { .. } => "content_block_start",
            AnthropicEvent::Ping => "ping",
            AnthropicEvent::ContentBlockDelta { .. } => "content_block_delta",
            AnthropicEvent::ContentBlockStop { .. } => "content_block_stop",
            AnthropicEvent::MessageDelta { .. } => "message_delta",
            AnthropicEvent::MessageStop => "message_stop",
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

#[derive(Serialize)]
struct OutputUsage {
    output_tokens: u64,
}

/// `{}`, the `input` of a `tool_use` block as a stream starts it.
fn empty_object() -> &'static RawValue {
    serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("`{{}}` is JSON"))
}

/// The ids of a reply in `protocol`, made from the request's id: the
/// response's, and the tool call's when the reply is one.
fn ids(protocol: Protocol, id: &str, r: &Reply) -> (String, String) {
    let (reply, tool) = match protocol {
        // Gemini clients reach the loopback model as OpenAI clients (crate::gemini).
        Protocol::OpenAi | Protocol::Gemini => ("chatcmpl-", "call_"),
        Protocol::Anthropic => ("msg_", "toolu_"),
    };
    let tool = match r.tool {
        Some(_) => [tool, id].concat(),
        None => String::new(),
    };
    ([reply, id].concat(), tool)
}

/// A non-streaming response body in `protocol`.
pub fn response(protocol: Protocol, id: &str, model: &str, created: u64, r: &Reply) -> Vec<u8> {
    let (id, tool_id) = ids(protocol, id, r);
    let body = match protocol {
        Protocol::OpenAi | Protocol::Gemini => {
            let tool_calls = r.tool.as_ref().map(|(name, args)| {
                [ToolCall {
                    index: None,
                    id: Some(&tool_id),
                    kind: Some("function"),
                    function: Function {
                        name: Some(name),
                        arguments: args,
                    },
                }]
            });
            serde_json::to_vec(&Completion {
                id: &id,
                object: "chat.completion",
                created,
                model,
                choices: [Choice {
                    index: 0,
                    message: Message {
                        role: "assistant",
                        content: r.tool.is_none().then(|| r.text()),
                        refusal: None,
                        tool_calls,
                    },
                    logprobs: None,
                    finish_reason: finish_reason(r),
                }],
                usage: OpenAiUsage::of(r),
            })
        }
        Protocol::Anthropic => {
            let content = [match &r.tool {
                Some((name, args)) => Block::ToolUse {
                    id: &tool_id,
                    name,
                    input: serde_json::from_str(args).unwrap_or_else(|_| empty_object()),
                },
                None => Block::Text { text: r.text() },
            }];
            serde_json::to_vec(&AnthropicMessage {
                id: &id,
                kind: "message",
                role: "assistant",
                model,
                content: &content,
                stop_reason: Some(stop_reason(r)),
                stop_sequence: None,
                usage: AnthropicUsage {
                    input_tokens: r.prompt_tokens,
                    output_tokens: r.completion_tokens(),
                },
            })
        }
    };
    body.unwrap_or_default()
}

/// Splits tool arguments in two, as models stream them in fragments.
fn halves(args: &str) -> [&str; 2] {
    let mut mid = args.len() / 2;
    while !args.is_char_boundary(mid) {
        mid += 1;
    }
    [&args[..mid], &args[mid..]]
}

/// A streamed reply, its SSE events made one at a time as the stream is
/// read (a slow stream holds the reply, not all its events). OpenAI streams
/// end with the `[DONE]` sentinel (data only).
pub struct Stream {
    protocol: Protocol,
    id: String,
    tool_id: String,
    model: String,
    created: u64,
    reply: Reply,
    include_usage: bool,
    next: usize,
}

impl Stream {
    pub fn new(
        protocol: Protocol,
        id: &str,
        model: &str,
        created: u64,
        reply: Reply,
        include_usage: bool,
    ) -> Self {
        let (id, tool_id) = ids(protocol, id, &reply);
        Stream {
            protocol,
            id,
            tool_id,
            model: model.to_owned(),
            created,
            reply,
            include_usage,
            next: 0,
        }
    }

    /// Appends the next event to `out`; `false` once every event was written.
    pub fn write_next(&mut self, out: &mut BytesMut) -> bool {
        let i = self.next;
        self.next += 1;
        match self.protocol {
            Protocol::OpenAi | Protocol::Gemini => self.openai(i, out),
            Protocol::Anthropic => self.anthropic(i, out),
        }
    }

    /// The `i`th chunk of an OpenAI stream: the role, each word (or the tool
    /// call's start and its arguments in two fragments), the finish reason,
    /// the usage chunk when asked for, `[DONE]`.
    fn openai(&self, i: usize, out: &mut BytesMut) -> bool {
        let r = &self.reply;
        let words = r.ends.len();
        let tool_parts = if r.tool.is_some() { 3 } else { 0 };
        let finish = words + tool_parts + 1;
        let mut chunk = |delta: Delta<'_>, finish_reason: Option<&'static str>| {
            let choice = ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            };
            self.write_chunk(out, &[choice], None);
        };
        if i == 0 {
            chunk(
                Delta {
                    role: Some("assistant"),
                    content: Some(""),
                    ..Delta::default()
                },
                None,
            );
        } else if i <= words {
            chunk(
                Delta {
                    content: Some(r.word(i - 1)),
                    ..Delta::default()
                },
                None,
            );
        } else if i < finish {
            let (name, args) = r
                .tool
                .as_ref()
                .map(|(n, a)| (n.as_str(), a.as_str()))
                .unwrap_or_default();
            let call = match i - words {
                1 => ToolCall {
                    index: Some(0),
                    id: Some(&self.tool_id),
                    kind: Some("function"),
                    function: Function {
                        name: Some(name),
                        arguments: "",
                    },
                },
                part => ToolCall {
                    index: Some(0),
                    id: None,
                    kind: None,
                    function: Function {
                        name: None,
                        arguments: halves(args)[part - 2],
                    },
                },
            };
            chunk(
                Delta {
                    tool_calls: Some([call]),
                    ..Delta::default()
                },
                None,
            );
        } else if i == finish {
            chunk(Delta::default(), Some(finish_reason(r)));
        } else if i == finish + 1 && self.include_usage {
            self.write_chunk(out, &[], Some(OpenAiUsage::of(r)));
        } else if i == finish + 1 + usize::from(self.include_usage) {
            crate::sse::encode(out, None, "[DONE]");
        } else {
            return false;
        }
        true
    }

    /// Writes one chunk of an OpenAI stream. It carries `usage` only when
    /// the client asked for it: `null` but in the usage chunk.
    fn write_chunk(
        &self,
        out: &mut BytesMut,
        choices: &[ChunkChoice<'_>],
        usage: Option<OpenAiUsage>,
    ) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage: self.include_usage.then_some(usage),
        };
        crate::sse::encode_json(out, None, &chunk);
    }

    /// The `i`th event of an Anthropic stream: `message_start`, the content
    /// block (text: a `ping` and one delta per word; a tool call: its input
    /// in two `input_json_delta` fragments), `message_delta`, `message_stop`.
    fn anthropic(&self, i: usize, out: &mut BytesMut) -> bool {
        let r = &self.reply;
        let deltas = match &r.tool {
            Some(_) => 2,
            None => 1 + r.ends.len(),
        };
        let event = match i {
            0 => AnthropicEvent::MessageStart {
                message: AnthropicMessage {
                    id: &self.id,
                    kind: "message",
                    role: "assistant",
                    model: &self.model,
                    content: &[],
                    stop_reason: None,
                    stop_sequence: None,
                    usage: AnthropicUsage {
                        input_tokens: r.prompt_tokens,
                        output_tokens: 1,
                    },
                },
            },
            1 => AnthropicEvent::ContentBlockStart {
                index: 0,
                content_block: match &r.tool {
                    Some((name, _)) => Block::ToolUse {
                        id: &self.tool_id,
                        name,
                        input: empty_object(),
                    },
                    None => Block::Text { text: "" },
                },
            },
            i if i < 2 + deltas => match &r.tool {
                Some((_, args)) => AnthropicEvent::ContentBlockDelta {
                    index: 0,
                    delta: BlockDelta::InputJsonDelta {
                        partial_json: halves(args)[i - 2],
                    },
                },
                None if i == 2 => AnthropicEvent::Ping,
                None => AnthropicEvent::ContentBlockDelta {
                    index: 0,
                    delta: BlockDelta::TextDelta {
                        text: r.word(i - 3),
                    },
                },
            },
            i if i == 2 + deltas => AnthropicEvent::ContentBlockStop { index: 0 },
            i if i == 3 + deltas => AnthropicEvent::MessageDelta {
                delta: StopDelta {
                    stop_reason: stop_reason(r),
                    stop_sequence: None,
                },
                usage: OutputUsage {
                    output_tokens: r.completion_tokens(),
                },
            },
            i if i == 4 + deltas => AnthropicEvent::MessageStop,
            _ => return false,
        };
        crate::sse::encode_json(out, Some(event.name()), &event);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The reply to `request`, unvalidated.
    fn reply(request: &Value) -> Reply {
        let body = serde_json::to_vec(request).unwrap();
        reply_to(&serde_json::from_slice(&body).unwrap())
    }

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
        assert_eq!((r.tool.clone(), r.text()), (None, "loopback: sunny"));
        let auto = json!({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto","tools":[{"type":"function","function":{"name":"w"}}]});
        assert!(reply(&auto).tool.is_none());
    }

    /// Every event of a streamed reply: (event name, data as JSON; `[DONE]` as a string).
    fn stream(protocol: Protocol, r: &Reply, include_usage: bool) -> Vec<(Option<String>, Value)> {
        let mut s = Stream::new(protocol, "abc", "m", 7, r.clone(), include_usage);
        let mut out = BytesMut::new();
        while s.write_next(&mut out) {}
        assert!(!s.write_next(&mut out), "a finished stream stays finished");
        tokgateway_protocol::sse::Decoder::default()
            .feed(&out)
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
                (e.event, data)
            })
            .collect()
    }

    fn whole(protocol: Protocol, r: &Reply) -> Value {
        serde_json::from_slice(&response(protocol, "abc", "m", 7, r)).unwrap()
    }

    const TOOL_REQUEST: &str = r#"{"messages":[{"role":"user","content":"Zürich"}],"tool_choice":"required",
        "tools":[{"type":"function","function":{"name":"weather","parameters":{"properties":{"city":{"type":"string"}}}}}]}"#;

    #[test]
    fn openai_stream_carries_the_reply_and_its_usage() {
        let r = reply(&json!({"messages":[{"role":"user","content":"hello  big world"}]}));
        let full = whole(Protocol::OpenAi, &r);
        assert_eq!(full["id"], "chatcmpl-abc");
        assert_eq!(
            full["choices"][0]["message"]["content"],
            "loopback: hello big world"
        );
        assert_eq!(full["choices"][0]["finish_reason"], "stop");
        assert_eq!(full["usage"]["completion_tokens"], 4);
        assert!(full["choices"][0]["message"].get("tool_calls").is_none());
        let events = stream(Protocol::OpenAi, &r, true);
        let (last, chunks) = events.split_last().unwrap();
        assert_eq!(last.1, "[DONE]");
        let (usage, chunks) = chunks.split_last().unwrap();
        assert_eq!(usage.1["choices"], json!([]));
        assert_eq!(usage.1["usage"], full["usage"]);
        assert_eq!(
            chunks[0].1["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let text: String = chunks
            .iter()
            .filter_map(|c| c.1["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "loopback: hello big world");
        for (name, c) in chunks {
            assert_eq!(
                (name, &c["id"], &c["object"], &c["usage"]),
                (
                    &None,
                    &json!("chatcmpl-abc"),
                    &json!("chat.completion.chunk"),
                    &Value::Null
                )
            );
        }
        assert_eq!(
            chunks.last().unwrap().1["choices"][0]["finish_reason"],
            "stop"
        );
        // Without include_usage: no usage chunk and no usage key.
        let plain = stream(Protocol::OpenAi, &r, false);
        assert_eq!(plain.len(), events.len() - 1);
        assert!(plain.iter().all(|(_, c)| c.get("usage").is_none()));
    }

    #[test]
    fn streamed_tool_calls_rebuild_the_arguments() {
        let r = reply(&serde_json::from_str(TOOL_REQUEST).unwrap());
        let full = whole(Protocol::OpenAi, &r);
        let call = &full["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(full["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            (&call["id"], &call["type"], &call["function"]["name"]),
            (&json!("call_abc"), &json!("function"), &json!("weather"))
        );
        assert_eq!(call["function"]["arguments"], r#"{"city":"Zürich"}"#);
        let events = stream(Protocol::OpenAi, &r, false);
        let calls: Vec<&Value> = events
            .iter()
            .filter_map(|(_, c)| c["choices"][0]["delta"].get("tool_calls"))
            .collect();
        assert_eq!(calls[0][0]["id"], "call_abc");
        assert_eq!(calls[0][0]["function"]["name"], "weather");
        let args: String = calls
            .iter()
            .filter_map(|c| c[0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(args, r#"{"city":"Zürich"}"#);
        assert_eq!(
            events[events.len() - 2].1["choices"][0]["finish_reason"],
            "tool_calls"
        );

        let full = whole(Protocol::Anthropic, &r);
        assert_eq!(
            full["content"],
            json!([{"type": "tool_use", "id": "toolu_abc", "name": "weather", "input": {"city": "Zürich"}}])
        );
        assert_eq!(full["stop_reason"], "tool_use");
        let events = stream(Protocol::Anthropic, &r, false);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "tool_use", "id": "toolu_abc", "name": "weather", "input": {}})
        );
        let json: String = events
            .iter()
            .filter_map(|(_, e)| e["delta"]["partial_json"].as_str())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&json).unwrap(),
            full["content"][0]["input"]
        );
    }

    #[test]
    fn anthropic_stream_follows_the_messages_event_order() {
        let r = reply(
            &json!({"max_tokens": 3, "messages":[{"role":"user","content":"one two three"}]}),
        );
        let full = whole(Protocol::Anthropic, &r);
        assert_eq!(
            full["content"],
            json!([{"type": "text", "text": "loopback: one two"}])
        );
        assert_eq!(
            (
                &full["id"],
                &full["stop_reason"],
                &full["usage"]["output_tokens"]
            ),
            (&json!("msg_abc"), &json!("max_tokens"), &json!(3))
        );
        let events = stream(Protocol::Anthropic, &r, true);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for (name, e) in &events {
            assert_eq!(e["type"], name.as_deref().unwrap());
        }
        assert_eq!(events[0].1["message"]["content"], json!([]));
        assert_eq!(
            events[0].1["message"]["usage"]["input_tokens"],
            full["usage"]["input_tokens"]
        );
        let text: String = events
            .iter()
            .filter_map(|(_, e)| e["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, "loopback: one two");
        assert_eq!(
            events[7].1["delta"],
            json!({"stop_reason": "max_tokens", "stop_sequence": null})
        );
        assert_eq!(events[7].1["usage"], json!({"output_tokens": 3}));
    }

    #[test]
    fn requests_are_checked_like_an_upstream_would() {
        let refused = |protocol, body: &str| {
            let e = answer(protocol, body.as_bytes()).unwrap_err();
            (
                e.status.as_u16(),
                e.body()["error"]["message"].as_str().unwrap().to_owned(),
            )
        };
        let must_be_array = (400, "`messages` must be an array of messages".to_owned());
        assert_eq!(refused(Protocol::OpenAi, r#"{"model":"m"}"#), must_be_array);
        assert_eq!(
            refused(Protocol::OpenAi, r#"{"messages":"hi"}"#),
            must_be_array
        );
        assert_eq!(
            refused(Protocol::OpenAi, r#"{"messages":[]}"#).1,
            "`messages` must contain at least one message"
        );
        for body in [
            r#"{"messages":[{"role":"user","content":"a"},{"content":"b"}]}"#,
            r#"{"messages":[{"role":"user","content":"a"},"b"]}"#,
            r#"{"messages":[{"role":"user","content":"a"},{"role":7}]}"#,
        ] {
            assert_eq!(
                refused(Protocol::OpenAi, body).1,
                "messages[1].role is required",
                "{body}"
            );
        }
        let no_max = r#"{"messages":[{"role":"user","content":"a"}]}"#;
        assert!(answer(Protocol::OpenAi, no_max.as_bytes()).is_ok());
        assert_eq!(
            refused(Protocol::Anthropic, no_max).1,
            "`max_tokens` is required and must be a positive integer"
        );
        let null_max = r#"{"max_tokens":null,"messages":[{"role":"user","content":"a"}]}"#;
        assert!(answer(Protocol::Anthropic, null_max.as_bytes()).is_err());
        assert!(
            !answer(Protocol::OpenAi, null_max.as_bytes())
                .unwrap()
                .truncated
        );
    }

    #[test]
    fn text_is_read_from_every_content_shape() {
        // Escaped strings, parts of unexpected shapes (skipped), tool results
        // nesting their content, a system prompt as blocks.
        let body = r#"{"system":[{"type":"text","text":"sys"}],"max_tokens":9,"messages":[
            {"role":"user","content":"caf\u00e9 \"quoted\"\tword"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]},
            {"role":"user","content":[7,null,{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"sunny"}]}]}
        ]}"#;
        let r = answer(Protocol::Anthropic, body.as_bytes()).unwrap();
        assert_eq!(r.text(), "loopback: sunny");
        assert!(r.tool.is_none());
        // sys + café "quoted"<tab>word + sunny
        assert_eq!(
            r.prompt_tokens,
            estimate_tokens("syscafé \"quoted\"\twordsunny")
        );
        let first = r#"{"messages":[{"role":"user","content":"caf\u00e9 \"quoted\"\tword"}]}"#;
        let r = answer(Protocol::OpenAi, first.as_bytes()).unwrap();
        assert_eq!(r.text(), "loopback: café \"quoted\" word");
    }
}
