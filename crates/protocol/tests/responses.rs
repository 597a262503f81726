//! OpenAI Responses API ⇄ Chat Completions: golden tests for the request and
//! response mappings and the stream state machine, and properties (chunking
//! does not change the final response; no input panics).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use tokgateway_protocol::responses::{
    self, ChatToResponsesStream, INPUT_ERROR, ResponseCtx, chat_to_responses_response,
    chat_turn_messages, dropped_fields, request_turn_messages, responses_to_chat_request,
};
use tokgateway_protocol::translate::{self, AnthropicToOpenAi};

fn ctx(request: Value) -> ResponseCtx {
    ResponseCtx {
        id: "resp_abc".to_owned(),
        created: 1_700_000_000,
        model: "gw-model".to_owned(),
        request,
    }
}

fn chat(req: Value) -> Value {
    responses_to_chat_request(&req, &[], "up").unwrap()
}

fn err(req: Value) -> String {
    responses_to_chat_request(&req, &[], "up").unwrap_err()
}

// ---------------------------------------------------------------------------
// Requests

#[test]
fn string_input_and_instructions() {
    let c = chat(json!({
        "model": "client-model", "instructions": "Be brief.", "input": "Hi",
        "max_output_tokens": 100, "temperature": 0.2, "top_p": 0.9, "user": "u1",
        "metadata": {"k": "v"}, "parallel_tool_calls": false, "store": false,
    }));
    assert_eq!(
        c,
        json!({
            "model": "up",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "user": "u1",
            "metadata": {"k": "v"}, "parallel_tool_calls": false,
        })
    );
}

#[test]
fn stream_adds_include_usage() {
    let c = chat(json!({"input": "x", "stream": true}));
    assert_eq!(c["stream"], true);
    assert_eq!(c["stream_options"], json!({"include_usage": true}));
    let c = chat(json!({"input": "x", "stream": false}));
    assert!(c.get("stream").is_none() && c.get("stream_options").is_none());
}

#[test]
fn message_items_with_images_and_roles() {
    let c = chat(json!({"input": [
        {"role": "developer", "content": "Rules."},
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "More"}, {"type": "input_text", "text": " rules."}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "high"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
        ]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one part"}]},
        {"type": "message", "id": "msg_old", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "A cat", "annotations": []}]},
    ]}));
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "Rules."},
            {"role": "system", "content": "More rules."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
            {"role": "user", "content": "one part"},
            {"role": "assistant", "content": "A cat"},
        ])
    );
}

#[test]
fn function_calls_merge_and_outputs_become_tool_messages() {
    let c = chat(json!({"input": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": "{\"city\":\"Rome\"}", "status": "completed"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "2"}, {"type": "input_text", "text": "1C"}]},
        {"type": "function_call", "call_id": "call_3", "name": "clock", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_3", "output": {"t": 1}},
    ]}));
    assert_eq!(
        c["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "21C"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_3", "type": "function", "function": {"name": "clock", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_3", "content": "{\"t\":1}"},
        ])
    );
}

#[test]
fn turns_chain_through_stored_history() {
    // Turn 1: the user asks, the model calls a tool.
    let req1 = json!({"instructions": "Sys A", "input": "Weather?", "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]});
    let chat1 = responses_to_chat_request(&req1, &[], "up").unwrap();
    let completion = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]}}]});
    let resp1 = chat_to_responses_response(&completion, &ctx(req1));
    let mut history = request_turn_messages(&chat1);
    history.extend(chat_turn_messages(&resp1));
    assert_eq!(
        history,
        vec![
            json!({"role": "user", "content": "Weather?"}),
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]}),
        ]
    );
    // Turn 2: the tool result, with new instructions (the old ones are not carried over).
    let req2 = json!({"instructions": "Sys B", "previous_response_id": "resp_abc",
        "input": [{"type": "function_call_output", "call_id": "call_9", "output": "sunny"}]});
    let chat2 = responses_to_chat_request(&req2, &history, "up").unwrap();
    assert_eq!(
        chat2["messages"],
        json!([
            {"role": "system", "content": "Sys B"},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "sunny"},
        ])
    );
    // A function_call in the new input does not merge into a stored message.
    let req3 = json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]});
    let h = vec![json!({"role": "assistant", "content": "old"})];
    let chat3 = responses_to_chat_request(&req3, &h, "up").unwrap();
    assert_eq!(chat3["messages"].as_array().unwrap().len(), 2);
    assert_eq!(
        chat3["messages"][0],
        json!({"role": "assistant", "content": "old"})
    );
}

#[test]
fn tools_and_tool_choice() {
    let c = chat(json!({"input": "x",
        "tools": [{"type": "function", "name": "f", "description": "does f", "parameters": {"type": "object", "properties": {}}, "strict": true},
                  {"type": "function", "name": "g"}],
        "tool_choice": {"type": "function", "name": "f"}}));
    assert_eq!(
        c["tools"],
        json!([
            {"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object", "properties": {}}, "strict": true}},
            {"type": "function", "function": {"name": "g"}},
        ])
    );
    assert_eq!(
        c["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    for s in ["auto", "none", "required"] {
        assert_eq!(
            chat(json!({"input": "x", "tool_choice": s}))["tool_choice"],
            s
        );
    }
    assert_eq!(
        err(json!({"input": "x", "tool_choice": "sometimes"})),
        "tool_choice `sometimes` is not supported"
    );
    assert_eq!(
        err(json!({"input": "x", "tool_choice": {"type": "file_search"}})),
        "tool_choice.type `file_search` has no Chat Completions equivalent"
    );
    assert_eq!(
        err(json!({"input": "x", "tool_choice": {"type": "function"}})),
        "tool_choice.name is missing"
    );
}

#[test]
fn non_function_tools_are_rejected_by_index() {
    for ty in ["web_search", "file_search", "computer_use_preview", "mcp"] {
        let e =
            err(json!({"input": "x", "tools": [{"type": "function", "name": "f"}, {"type": ty}]}));
        assert_eq!(
            e,
            format!(
                "tools[1].type `{ty}` has no Chat Completions equivalent (only function tools can be translated)"
            )
        );
    }
    assert_eq!(
        err(json!({"input": "x", "tools": [{"type": "function"}]})),
        "tools[0].name is missing"
    );
    assert_eq!(
        err(json!({"input": "x", "tools": [{"name": "f"}]})),
        "tools[0].type is missing"
    );
}

#[test]
fn text_format_and_reasoning() {
    let c = chat(
        json!({"input": "x", "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
        "reasoning": {"effort": "high", "summary": "auto"}}),
    );
    assert_eq!(
        c["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(c["reasoning_effort"], "high");
    let c = chat(json!({"input": "x", "text": {"format": {"type": "json_object"}}}));
    assert_eq!(c["response_format"], json!({"type": "json_object"}));
    let c = chat(json!({"input": "x", "text": {"format": {"type": "text"}}}));
    assert!(c.get("response_format").is_none());
    assert_eq!(
        err(json!({"input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}})),
        "text.format.name is missing"
    );
    assert_eq!(
        err(json!({"input": "x", "text": {"format": {"type": "grammar"}}})),
        "text.format.type `grammar` cannot be translated"
    );
}

#[test]
fn dropped_fields_are_listed() {
    let req = json!({"input": "x", "reasoning": {"effort": "low", "summary": "auto"}, "truncation": "auto",
        "include": ["reasoning.encrypted_content"], "text": {"verbosity": "low"}, "background": false,
        "service_tier": "flex", "store": true});
    assert_eq!(
        dropped_fields(&req),
        vec![
            "reasoning.summary",
            "truncation",
            "include",
            "text.verbosity",
            "service_tier"
        ]
    );
    assert!(
        dropped_fields(&json!({"input": "x", "truncation": "disabled", "include": []})).is_empty()
    );
}

#[test]
fn bad_input_is_rejected_with_its_path() {
    assert_eq!(err(json!({})), INPUT_ERROR);
    assert_eq!(err(json!({"input": 3})), INPUT_ERROR);
    assert_eq!(err(json!({"input": null})), INPUT_ERROR);
    let cases = [
        (
            json!([{"type": "web_search_call", "id": "ws"}]),
            "input[0].type `web_search_call` cannot be translated to Chat Completions",
        ),
        (
            json!(["x", {"content": "no role"}]),
            "input[0].type is missing",
        ),
        (
            json!([{"role": "user", "content": "ok"}, {"content": "no role"}]),
            "input[1].type is missing",
        ),
        (
            json!([{"type": "message", "content": "x"}]),
            "input[0].role is missing",
        ),
        (
            json!([{"role": "critic", "content": "x"}]),
            "input[0].role `critic` is not supported",
        ),
        (
            json!([{"role": "user", "content": 5}]),
            "input[0].content must be a string or a list of content parts",
        ),
        (
            json!([{"role": "user", "content": [{"type": "input_audio"}]}]),
            "input[0].content[0].type `input_audio` cannot be translated to Chat Completions",
        ),
        (
            json!([{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]),
            "input[0].content[0].file_id cannot be resolved by the gateway; send `image_url` (an http(s) or data: URL)",
        ),
        (
            json!([{"role": "assistant", "content": [{"type": "input_image", "image_url": "https://x"}]}]),
            "input[0].content[0].type `input_image` is only allowed in a user message",
        ),
        (
            json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"type": "function_call", "name": "f", "arguments": "{}"}]),
            "input[2].call_id is missing",
        ),
        (
            json!([{"type": "function_call", "call_id": "c", "arguments": "{}"}]),
            "input[0].name is missing",
        ),
        (
            json!([{"type": "function_call_output", "output": "x"}]),
            "input[0].call_id is missing",
        ),
        (
            json!([{"type": "function_call_output", "call_id": "c"}]),
            "input[0].output is missing",
        ),
        (
            json!([{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "https://x"}]}]),
            "input[0].output[0].type `input_image` cannot be translated to a Chat tool result (text only)",
        ),
        (
            json!([{"type": "item_reference", "id": "msg_1"}]),
            "input[0]: `item_reference` items cannot be resolved by the gateway; send the item itself",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(err(json!({"input": input})), want, "input: {input}");
    }
    assert_eq!(
        err(json!({"input": "x", "prompt": {"id": "pmpt_1"}})),
        "`prompt`: stored prompt templates cannot be resolved by the gateway"
    );
}

#[test]
fn input_file_maps_to_chat_file_part() {
    let c = chat(json!({"input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}]}]}));
    assert_eq!(
        c["messages"][0]["content"],
        json!([{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}}])
    );
}

#[test]
fn translated_request_composes_with_anthropic_translation() {
    let c = chat(
        json!({"instructions": "Sys", "max_output_tokens": 50, "input": [
        {"role": "developer", "content": "Dev"},
        {"role": "user", "content": "q"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "r"},
    ], "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
    );
    let a = translate::openai_to_anthropic_request(&c, "claude").unwrap();
    assert_eq!(a["system"], "Sys\n\nDev");
    assert_eq!(a["max_tokens"], 50);
    assert_eq!(a["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(a["messages"][1]["content"][0]["input"], json!({"a": 1}));
    assert_eq!(a["messages"][2]["content"][0]["tool_use_id"], "call_1");
    assert_eq!(a["tools"][0]["name"], "f");
}

// ---------------------------------------------------------------------------
// Responses

fn completion(finish: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "upstream-model",
        "choices": [{"index": 0, "finish_reason": finish, "message": {
            "role": "assistant", "content": "Hello, world",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": "{\"q\":1}"}},
            ]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50,
                  "prompt_tokens_details": {"cached_tokens": 4}},
    })
}

#[test]
fn completion_with_text_tools_and_length_finish() {
    let req = json!({"model": "gw-model", "input": "x", "max_output_tokens": 30, "tools": [{"type": "function", "name": "get_weather"}], "metadata": {"a": "b"}});
    let r = chat_to_responses_response(&completion("length"), &ctx(req.clone()));
    assert_eq!(
        r,
        json!({
            "id": "resp_abc", "object": "response", "created_at": 1_700_000_000u64,
            "status": "incomplete", "error": null,
            "incomplete_details": {"reason": "max_output_tokens"},
            "model": "gw-model",
            "output": [
                {"type": "message", "id": "msg_abc", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hello, world", "annotations": []}]},
                {"type": "function_call", "id": "fc_abc_0", "call_id": "call_a", "name": "get_weather",
                 "arguments": "{\"city\": \"Paris\"}", "status": "completed"},
                {"type": "function_call", "id": "fc_abc_1", "call_id": "call_b", "name": "clock",
                 "arguments": "{\"q\":1}", "status": "incomplete"},
            ],
            "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 50},
            "instructions": null, "tools": req["tools"], "tool_choice": "auto",
            "temperature": null, "top_p": null, "max_output_tokens": 30, "parallel_tool_calls": true,
            "previous_response_id": null, "store": true, "metadata": {"a": "b"},
            "text": {"format": {"type": "text"}}, "reasoning": {"effort": null, "summary": null},
            "truncation": "disabled", "user": null,
        })
    );
    let done = chat_to_responses_response(&completion("tool_calls"), &ctx(req.clone()));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["incomplete_details"], Value::Null);
    assert_eq!(done["output"][2]["status"], "completed");
    let filtered = chat_to_responses_response(&completion("content_filter"), &ctx(req));
    assert_eq!(
        filtered["incomplete_details"],
        json!({"reason": "content_filter"})
    );
}

#[test]
fn completion_with_refusal_and_without_usage() {
    let c = json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": null, "refusal": "No."}}]});
    let r = chat_to_responses_response(&c, &ctx(json!({"input": "x"})));
    assert_eq!(
        r["output"],
        json!([{"type": "message", "id": "msg_abc", "status": "completed", "role": "assistant",
                "content": [{"type": "refusal", "refusal": "No."}]}])
    );
    assert_eq!(r["usage"], Value::Null);
    assert_eq!(
        chat_turn_messages(&r),
        vec![json!({"role": "assistant", "content": "No."})]
    );
}

#[test]
fn turn_messages_from_a_response() {
    let r = chat_to_responses_response(&completion("tool_calls"), &ctx(json!({"input": "x"})));
    assert_eq!(
        chat_turn_messages(&r),
        vec![
            json!({"role": "assistant", "content": "Hello, world", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": "{\"q\":1}"}},
            ]})
        ]
    );
    let chat_req = chat(
        json!({"instructions": "s", "input": [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]}),
    );
    assert_eq!(
        request_turn_messages(&chat_req),
        vec![json!({"role": "user", "content": "u"})]
    );
}

// ---------------------------------------------------------------------------
// Streams

fn chunk(delta: Value, finish: Value) -> String {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 5, "model": "upstream-model",
           "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    .to_string()
}

fn text_chunk(t: &str) -> String {
    chunk(json!({"content": t}), Value::Null)
}

fn tool_head(index: u64, id: &str, name: &str, args: &str) -> String {
    chunk(
        json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": args}}]}),
        Value::Null,
    )
}

fn tool_args(index: u64, args: &str) -> String {
    chunk(
        json!({"tool_calls": [{"index": index, "function": {"arguments": args}}]}),
        Value::Null,
    )
}

fn usage_chunk() -> String {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 5, "model": "upstream-model", "choices": [],
           "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50, "prompt_tokens_details": {"cached_tokens": 4}}})
    .to_string()
}

fn golden_chunks(finish: &str) -> Vec<String> {
    vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        text_chunk("Hel"),
        text_chunk("lo, "),
        text_chunk("world"),
        tool_head(0, "call_a", "get_weather", ""),
        tool_args(0, "{\"ci"),
        tool_args(0, "ty\":"),
        tool_args(0, " \"Pa"),
        tool_args(0, "ris\""),
        tool_args(0, "}"),
        tool_head(1, "call_b", "clock", ""),
        tool_args(1, "{\"q\":"),
        tool_args(1, "1}"),
        chunk(json!({}), json!(finish)),
        usage_chunk(),
        "[DONE]".to_owned(),
    ]
}

fn run(chunks: &[String], req: &Value) -> (Vec<(String, Value)>, ChatToResponsesStream) {
    let mut s = ChatToResponsesStream::new(ctx(req.clone()));
    let mut out = Vec::new();
    for c in chunks {
        s.push(c, &mut out);
    }
    s.finish(&mut out);
    s.finish(&mut out);
    let events = out
        .into_iter()
        .map(|(name, data)| {
            let v: Value = serde_json::from_str(&data).unwrap();
            let name = name.unwrap().to_owned();
            assert_eq!(v["type"], name.as_str());
            (name, v)
        })
        .collect();
    (events, s)
}

#[test]
fn stream_golden_events() {
    let req = json!({"input": "x", "stream": true, "tools": [{"type": "function", "name": "get_weather"}]});
    let (events, s) = run(&golden_chunks("tool_calls"), &req);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, (_, v)) in events.iter().enumerate() {
        assert_eq!(v["sequence_number"], i as u64);
    }
    let ev = |i: usize| &events[i].1;
    assert_eq!(ev(0)["response"]["status"], "in_progress");
    assert_eq!(ev(0)["response"]["output"], json!([]));
    assert_eq!(ev(0)["response"]["id"], "resp_abc");
    assert_eq!(
        ev(2)["item"],
        json!({"type": "message", "id": "msg_abc", "status": "in_progress", "role": "assistant", "content": []})
    );
    assert_eq!(
        ev(3)["part"],
        json!({"type": "output_text", "text": "", "annotations": []})
    );
    assert_eq!(
        (
            &ev(4)["item_id"],
            &ev(4)["output_index"],
            &ev(4)["content_index"],
            &ev(4)["delta"]
        ),
        (&json!("msg_abc"), &json!(0), &json!(0), &json!("Hel"))
    );
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, v)| v["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello, world");
    assert_eq!(ev(7)["text"], "Hello, world");
    assert_eq!(ev(8)["part"]["text"], "Hello, world");
    assert_eq!(ev(9)["item"]["status"], "completed");
    assert_eq!(
        ev(10)["item"],
        json!({"type": "function_call", "id": "fc_abc_0", "call_id": "call_a", "name": "get_weather", "arguments": "", "status": "in_progress"})
    );
    assert_eq!(ev(10)["output_index"], 1);
    let args = |item: &str| -> String {
        events
            .iter()
            .filter(|(n, v)| n == "response.function_call_arguments.delta" && v["item_id"] == item)
            .map(|(_, v)| v["delta"].as_str().unwrap())
            .collect()
    };
    assert_eq!(args("fc_abc_0"), "{\"city\": \"Paris\"}");
    assert_eq!(args("fc_abc_1"), "{\"q\":1}");
    assert_eq!(ev(16)["output_index"], 2);
    assert_eq!(ev(19)["arguments"], "{\"city\": \"Paris\"}");
    assert_eq!(ev(19)["item_id"], "fc_abc_0");
    assert_eq!(ev(21)["arguments"], "{\"q\":1}");
    assert_eq!(ev(22)["item"]["status"], "completed");

    let expected = chat_to_responses_response(&completion("tool_calls"), &ctx(req));
    assert_eq!(ev(23)["response"], expected);
    assert_eq!(s.response(), Some(&expected));
    assert_eq!(s.usage(), (20, 30));
}

#[test]
fn stream_length_finish_is_incomplete() {
    let req = json!({"input": "x", "max_output_tokens": 30});
    let (events, s) = run(&golden_chunks("length"), &req);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        last["response"],
        chat_to_responses_response(&completion("length"), &ctx(req))
    );
    assert_eq!(s.response().unwrap()["status"], "incomplete");
    // The truncated item is reported incomplete when it closes.
    let done: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, v)| &v["item"]["status"])
        .collect();
    assert_eq!(
        done,
        vec![
            &json!("completed"),
            &json!("completed"),
            &json!("incomplete")
        ]
    );
}

#[test]
fn stream_text_only_and_empty() {
    let req = json!({"input": "x"});
    let chunks = vec![
        text_chunk("a"),
        text_chunk("b"),
        chunk(json!({}), json!("stop")),
    ];
    let (events, s) = run(&chunks, &req);
    assert_eq!(events.last().unwrap().0, "response.completed");
    let c = json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "ab"}}]});
    assert_eq!(
        s.response(),
        Some(&chat_to_responses_response(&c, &ctx(req.clone())))
    );
    assert_eq!(s.usage(), (0, 0));

    // No chunks at all: created, in_progress, completed with no output.
    let (events, s) = run(&[], &req);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    assert_eq!(s.response().unwrap()["output"], json!([]));
}

#[test]
fn stream_interleaved_tool_calls_and_reused_index() {
    let req = json!({"input": "x"});
    let chunks = vec![
        tool_head(0, "call_a", "f", "{\"a\""),
        tool_head(1, "call_b", "g", "{\"b\""),
        tool_args(0, ":1}"),
        tool_args(1, ":2}"),
        // A server that numbers every call 0: a new id means a new call.
        tool_head(0, "call_c", "h", "{}"),
        chunk(json!({}), json!("tool_calls")),
    ];
    let (_, s) = run(&chunks, &req);
    let out = &s.response().unwrap()["output"];
    let calls: Vec<(&str, &str, &str)> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["call_id"].as_str().unwrap(),
                i["name"].as_str().unwrap(),
                i["arguments"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("call_a", "f", "{\"a\":1}"),
            ("call_b", "g", "{\"b\":2}"),
            ("call_c", "h", "{}")
        ]
    );
}

#[test]
fn stream_refusal_and_text_after_tool_call() {
    let req = json!({"input": "x"});
    let chunks = vec![
        chunk(json!({"refusal": "I can"}), Value::Null),
        chunk(json!({"refusal": "not."}), Value::Null),
        tool_head(0, "call_a", "f", "{}"),
        text_chunk("late"),
        chunk(json!({}), json!("stop")),
    ];
    let (events, s) = run(&chunks, &req);
    assert!(
        events
            .iter()
            .any(|(n, v)| n == "response.refusal.done" && v["refusal"] == "I cannot.")
    );
    let out = &s.response().unwrap()["output"];
    assert_eq!(
        out[0]["content"],
        json!([{"type": "refusal", "refusal": "I cannot."}])
    );
    assert_eq!(out[1]["type"], "function_call");
    assert_eq!(out[2]["id"], "msg_abc_1");
    assert_eq!(out[2]["content"][0]["text"], "late");
}

#[test]
fn stream_fail_and_upstream_error() {
    let req = json!({"input": "x"});
    let mut s = ChatToResponsesStream::new(ctx(req.clone()));
    let mut out = Vec::new();
    s.push(&text_chunk("partial"), &mut out);
    s.fail("upstream went away", &mut out);
    s.push(&text_chunk("ignored"), &mut out);
    s.finish(&mut out);
    let (name, data) = out.last().unwrap();
    assert_eq!(*name, Some("response.failed"));
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["sequence_number"], out.len() as u64 - 1);
    assert_eq!(v["response"]["status"], "failed");
    assert_eq!(
        v["response"]["error"],
        json!({"code": "server_error", "message": "upstream went away"})
    );
    assert_eq!(v["response"]["output"][0]["status"], "incomplete");
    assert_eq!(v["response"]["output"][0]["content"][0]["text"], "partial");
    assert_eq!(s.response().unwrap()["status"], "failed");

    let mut s = ChatToResponsesStream::new(ctx(req));
    let mut out = Vec::new();
    s.push(
        r#"{"error":{"message":"rate limited","type":"x"}}"#,
        &mut out,
    );
    let names: Vec<_> = out.iter().map(|(n, _)| n.unwrap()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    assert!(out[2].1.contains("rate limited"));
}

#[test]
fn anthropic_stream_composes_into_responses_events() {
    let anthropic = [
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 7, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "there"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "[1]}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ];
    let mut a2o = AnthropicToOpenAi::new("claude", 1, true);
    let mut chunks = Vec::new();
    for ev in &anthropic {
        a2o.push(&ev.to_string(), &mut chunks);
    }
    let chunks: Vec<String> = chunks.into_iter().map(|(_, d)| d).collect();
    let (events, s) = run(&chunks, &json!({"input": "x"}));
    assert_eq!(events.last().unwrap().0, "response.completed");
    let r = s.response().unwrap();
    assert_eq!(r["output"][0]["content"][0]["text"], "Hi there");
    assert_eq!(r["output"][1]["call_id"], "toolu_1");
    assert_eq!(r["output"][1]["arguments"], "{\"a\":[1]}");
    assert_eq!(s.usage(), (7, 9));
}

// ---------------------------------------------------------------------------
// Properties

/// Splits `s` at the given char positions (mod its length).
fn pieces(s: &str, cuts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
    points.push(chars.len());
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(chars[last..p].iter().collect());
        last = p;
    }
    out
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z_ ]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("system"),
            Just("developer"),
            Just("message"),
            Just("function_call"),
            Just("function_call_output"),
            Just("input_text"),
            Just("input_image"),
            Just("function"),
            Just("json_schema"),
            Just("stop"),
            Just("length"),
            Just("tool_calls"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("input"),
                        Just("type"),
                        Just("role"),
                        Just("content"),
                        Just("text"),
                        Just("call_id"),
                        Just("name"),
                        Just("arguments"),
                        Just("output"),
                        Just("tools"),
                        Just("tool_choice"),
                        Just("format"),
                        Just("image_url"),
                        Just("choices"),
                        Just("delta"),
                        Just("message"),
                        Just("tool_calls"),
                        Just("index"),
                        Just("id"),
                        Just("function"),
                        Just("finish_reason"),
                        Just("usage"),
                        Just("refusal"),
                        Just("error"),
                        Just("reasoning"),
                        Just("instructions"),
                        Just("max_output_tokens"),
                    ]
                    .prop_map(str::to_owned),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rechunking_does_not_change_the_final_response(
        text in "[a-zé✓ ,]{0,24}",
        args_a in "[a-z0-9\":{} ]{0,24}",
        args_b in "[a-z0-9\":{} ]{0,24}",
        cut_t in prop::collection::vec(any::<usize>(), 0..6),
        cut_a in prop::collection::vec(any::<usize>(), 0..6),
        cut_b in prop::collection::vec(any::<usize>(), 0..6),
        order in prop::collection::vec(any::<bool>(), 0..16),
        finish in prop_oneof![Just("tool_calls"), Just("length"), Just("stop")],
    ) {
        let req = json!({"input": "x", "stream": true});
        let mut chunks = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
        chunks.extend(pieces(&text, &cut_t).iter().map(|t| text_chunk(t)));
        let pa = pieces(&args_a, &cut_a);
        let pb = pieces(&args_b, &cut_b);
        chunks.push(tool_head(0, "call_a", "fa", &pa[0]));
        // Call b starts after call a; their remaining fragments interleave.
        let mut rest_a = pa[1..].iter().map(|a| tool_args(0, a));
        let mut rest_b = std::iter::once(tool_head(1, "call_b", "fb", &pb[0])).chain(pb[1..].iter().map(|b| tool_args(1, b)));
        for take_a in order.iter().chain(std::iter::repeat_n(&true, 32)) {
            let next = if *take_a { rest_a.next().or_else(|| rest_b.next()) } else { rest_b.next().or_else(|| rest_a.next()) };
            match next { Some(c) => chunks.push(c), None => break }
        }
        chunks.extend(rest_b);
        chunks.push(chunk(json!({}), json!(finish)));
        chunks.push(usage_chunk());

        let (events, s) = run(&chunks, &req);
        let mut c = completion(finish);
        c["choices"][0]["message"]["content"] = text.clone().into();
        c["choices"][0]["message"]["tool_calls"][0]["function"]["name"] = "fa".into();
        c["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = args_a.clone().into();
        c["choices"][0]["message"]["tool_calls"][1]["function"]["name"] = "fb".into();
        c["choices"][0]["message"]["tool_calls"][1]["function"]["arguments"] = args_b.clone().into();
        let expected = chat_to_responses_response(&c, &ctx(req));
        if text.is_empty() {
            // No message item: function call ids are the same, but the output has no message.
            prop_assert_eq!(&expected["output"][0]["type"], "function_call");
        }
        prop_assert_eq!(s.response().unwrap(), &expected);
        let last = &events.last().unwrap().1;
        prop_assert_eq!(&last["response"], &expected);
        for (i, (_, v)) in events.iter().enumerate() {
            prop_assert_eq!(&v["sequence_number"], &json!(i));
        }
        prop_assert_eq!(s.usage(), (20, 30));
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json(), garbage in "\\PC{0,40}") {
        let _ = responses_to_chat_request(&v, std::slice::from_ref(&v), "m");
        let _ = responses::dropped_fields(&v);
        let r = chat_to_responses_response(&v, &ctx(v.clone()));
        let _ = chat_turn_messages(&r);
        let _ = chat_turn_messages(&v);
        let _ = request_turn_messages(&v);
        let mut s = ChatToResponsesStream::new(ctx(v.clone()));
        let mut out = Vec::new();
        for data in [v.to_string(), garbage.clone(), json!({"choices": [{"delta": v}]}).to_string(), "[DONE]".to_owned()] {
            s.push(&data, &mut out);
        }
        s.finish(&mut out);
        s.fail("x", &mut out);
        for (i, (name, data)) in out.iter().enumerate() {
            let d: Value = serde_json::from_str(data).unwrap();
            prop_assert_eq!(&d["sequence_number"], &json!(i));
            prop_assert_eq!(d["type"].as_str(), *name);
        }
        prop_assert!(s.response().is_some());
    }
}
