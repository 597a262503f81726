//! Google Gemini ⇄ Chat Completions: golden tests for the request and
//! response mappings (both directions) and the two stream state machines,
//! composition with the Anthropic translation, and properties (chunking does
//! not change the final answer; no input panics).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use tokgateway_protocol::gemini::{
    self, ChatToGeminiStream, DUMMY_THOUGHT_SIGNATURE, GeminiToChatStream, chat_to_gemini_request,
    chat_to_gemini_response, clean_schema, dropped_chat_fields, dropped_gemini_fields,
    gemini_error, gemini_to_chat_request, gemini_to_chat_response,
};
use tokgateway_protocol::translate::{self, OpenAiToAnthropic, Out};

fn g(req: Value) -> Value {
    chat_to_gemini_request(&req).unwrap()
}

fn g_err(req: Value) -> String {
    chat_to_gemini_request(&req).unwrap_err()
}

fn c(req: Value) -> Value {
    gemini_to_chat_request(&req, "up", false).unwrap()
}

fn c_err(req: Value) -> String {
    gemini_to_chat_request(&req, "up", false).unwrap_err()
}

fn datas(out: &[Out]) -> Vec<String> {
    assert!(out.iter().all(|(name, _)| name.is_none()));
    out.iter().map(|(_, d)| d.clone()).collect()
}

fn values(out: &[Out]) -> Vec<Value> {
    out.iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// Requests: Chat → Gemini

#[test]
fn system_messages_and_turn_merging() {
    let r = g(json!({
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": [{"type": "text", "text": " !"}]},
            {"role": "user", "content": "Ça va ?"},
        ],
        "stream": true, "stream_options": {"include_usage": true},
    }));
    assert_eq!(
        r,
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief.\n\nUse French."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
                {"role": "model", "parts": [{"text": "Bonjour"}, {"text": " !"}]},
                {"role": "user", "parts": [{"text": "Ça va ?"}]},
            ],
        })
    );
}

#[test]
fn generation_config_fields() {
    let r = g(json!({
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.3, "top_p": 0.9, "max_tokens": 10, "max_completion_tokens": 200,
        "stop": "END", "n": 1, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": -0.5,
        "response_format": {"type": "json_object"},
    }));
    assert_eq!(
        r["generationConfig"],
        json!({
            "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 200, "stopSequences": ["END"],
            "candidateCount": 1, "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
            "responseMimeType": "application/json",
        })
    );
    let r = g(
        json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, "stop": ["a", "b"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": {
            "type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "string"}}, "required": ["a"]}}}}),
    );
    assert_eq!(
        r["generationConfig"],
        json!({
            "maxOutputTokens": 5, "stopSequences": ["a", "b"], "responseMimeType": "application/json",
            "responseSchema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        })
    );
    let r = g(
        json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
    );
    assert!(r.get("generationConfig").is_none());
    assert_eq!(
        g_err(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "grammar"}})
        ),
        "response_format.type `grammar` cannot be translated to Gemini"
    );
}

#[test]
fn n_above_one_is_rejected() {
    assert_eq!(
        g_err(json!({"messages": [{"role": "user", "content": "x"}], "n": 2})),
        "`n` = 2 is not supported for Gemini (only 1)"
    );
    assert_eq!(
        c_err(
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 3}})
        ),
        "generationConfig.candidateCount = 3 is not supported (only 1)"
    );
}

#[test]
fn images_audio_and_files_to_gemini() {
    let r = g(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a/cat.JPG?size=large", "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
    ]}]}));
    assert_eq!(
        r["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/a/cat.JPG?size=large"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
        ])
    );
    let bad = |part: Value| g_err(json!({"messages": [{"role": "user", "content": [part]}]}));
    assert_eq!(
        bad(json!({"type": "image_url", "image_url": {"url": "https://x.test/image"}})),
        "messages[0].content[0].image_url.url: cannot tell the image type of `https://x.test/image` from its extension (png, jpg, jpeg, webp, heic, heif, gif, pdf); send a data: URL"
    );
    assert_eq!(
        bad(json!({"type": "image_url", "image_url": {"url": "data:image/png,raw"}})),
        "messages[0].content[0].image_url.url: only base64 data URLs can be translated"
    );
    assert_eq!(
        bad(json!({"type": "image_url", "image_url": {"url": "ftp://x/a.png"}})),
        "messages[0].content[0].image_url.url: image URL must be a data: or http(s) URL"
    );
    assert_eq!(
        bad(json!({"type": "file", "file": {"file_id": "file_1"}})),
        "messages[0].content[0].file: only `file_data` (a data: URL) can be translated to Gemini"
    );
    assert_eq!(
        bad(json!({"type": "video"})),
        "messages[0].content[0].type `video` cannot be translated to Gemini"
    );
}

#[test]
fn tools_and_tool_choice_modes() {
    let base = json!({
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"type": "function", "function": {"name": "weather", "description": "Weather for a city", "strict": true, "parameters": {
                "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
                "properties": {"city": {"type": "string", "description": "City"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "noop"}},
        ],
    });
    let r = g(base.clone());
    assert_eq!(
        r["tools"],
        json!([{"functionDeclarations": [
            {"name": "weather", "description": "Weather for a city", "parameters": {
                "type": "object", "properties": {"city": {"type": "string", "description": "City"}}, "required": ["city"]}},
            {"name": "clock"},
            {"name": "noop"},
        ]}])
    );
    assert!(r.get("toolConfig").is_none());
    let mode = |choice: Value| {
        let mut req = base.clone();
        req["tool_choice"] = choice;
        g(req)["toolConfig"].clone()
    };
    assert_eq!(
        mode(json!("auto")),
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        mode(json!("none")),
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
    assert_eq!(
        mode(json!("required")),
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    assert_eq!(
        mode(json!({"type": "function", "function": {"name": "clock"}})),
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["clock"]}})
    );
    let mut req = base.clone();
    req["tool_choice"] = json!("sometimes");
    assert_eq!(g_err(req), "tool_choice `sometimes` is not supported");
    assert_eq!(
        g_err(
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "custom", "custom": {"name": "c"}}]})
        ),
        "tools[0].type `custom` cannot be translated to Gemini (only function tools)"
    );
    // No tools: tool_choice alone is not sent.
    let r = g(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [], "tool_choice": "none"}),
    );
    assert!(r.get("tools").is_none() && r.get("toolConfig").is_none());
}

#[test]
fn schema_cleaning() {
    let s = clean_schema(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Args", "type": "object", "additionalProperties": false, "strict": true,
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "title": "Unit"}},
        "properties": {
            "unit": {"$ref": "#/$defs/Unit", "description": "The unit"},
            "days": {"anyOf": [{"type": "integer", "minimum": 1, "exclusiveMaximum": 15}, {"type": "null"}], "default": null},
            "tags": {"type": ["array", "null"], "items": {"type": "string", "format": "uri", "minLength": 1}, "uniqueItems": true},
            "when": {"type": "string", "format": "date-time"},
            "kind": {"const": "forecast"},
            "level": {"enum": [1, 2, null]},
            "either": {"oneOf": [{"type": "string"}, {"type": "number", "format": "double"}]},
            "both": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
            ]},
            "self": {"$ref": "#"},
        },
        "required": ["unit", "ghost"],
    }));
    assert_eq!(
        s,
        json!({
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["c", "f"], "description": "The unit"},
                "days": {"type": "integer", "minimum": 1, "default": null, "nullable": true},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "nullable": true},
                "when": {"type": "string", "format": "date-time"},
                "kind": {"enum": ["forecast"]},
                "level": {"enum": ["1", "2"], "nullable": true},
                "either": {"anyOf": [{"type": "string"}, {"type": "number", "format": "double"}]},
                "both": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}, "required": ["a", "b"]},
                "self": s["properties"]["self"].clone(),
            },
            "required": ["unit"],
        })
    );
    // Recursion through `$ref: "#"` stops.
    let mut depth = 0;
    let mut cur = &s["properties"]["self"];
    while let Some(next) = cur.pointer("/properties/self") {
        depth += 1;
        cur = next;
    }
    assert!((1..=10).contains(&depth), "depth {depth}");
    assert_eq!(clean_schema(&json!(true)), json!({}));
}

#[test]
fn ref_expansion_is_bounded() {
    // Each definition refers to the next one ten times: inlining everything
    // would make 10^8 copies.
    let mut defs = serde_json::Map::new();
    for i in 0..8 {
        let next = format!("#/$defs/d{}", i + 1);
        let props: serde_json::Map<String, Value> = (0..10)
            .map(|k| (format!("p{k}"), json!({"$ref": next})))
            .collect();
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": props}),
        );
    }
    defs.insert("d8".into(), json!({"type": "string"}));
    let s = clean_schema(&json!({"$ref": "#/$defs/d0", "$defs": defs}));
    let size = s.to_string().len();
    assert!(size < 200_000, "{size}");
    assert_eq!(s["type"], "object");
    assert_eq!(s["properties"]["p0"]["properties"]["p0"]["type"], "object");
}

#[test]
fn responses_request_composes_into_gemini() {
    let r = json!({"instructions": "Sys", "max_output_tokens": 64, "input": [
        {"role": "user", "content": "q"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "r"},
    ], "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}, "strict": true}],
       "tool_choice": "required", "text": {"format": {"type": "json_object"}}});
    let chat = tokgateway_protocol::responses::responses_to_chat_request(&r, &[], "gemini-2.5-pro")
        .unwrap();
    assert_eq!(
        g(chat),
        json!({
            "systemInstruction": {"parts": [{"text": "Sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "q"}]},
                {"role": "model", "parts": [{"functionCall": {"id": "call_1", "name": "f", "args": {"a": 1}}, "thoughtSignature": DUMMY_THOUGHT_SIGNATURE}]},
                {"role": "user", "parts": [{"functionResponse": {"id": "call_1", "name": "f", "response": {"result": "r"}}}]},
            ],
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"maxOutputTokens": 64, "responseMimeType": "application/json"},
        })
    );
}

#[test]
fn tool_calls_and_results_across_turns() {
    let r = g(json!({"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp\": 18}"},
        {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "21C"}]},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_c", "type": "function", "function": {"name": "clock", "arguments": ""},
             "extra_content": {"google": {"thought_signature": "c2lnbmF0dXJl"}}},
        ]},
        {"role": "tool", "tool_call_id": "call_c", "content": "[1, 2]"},
        {"role": "user", "content": "Thanks"},
    ]}));
    assert_eq!(
        r["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": DUMMY_THOUGHT_SIGNATURE},
                {"functionCall": {"id": "call_b", "name": "weather", "args": {"city": "Rome"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_a", "name": "weather", "response": {"temp": 18}}},
                {"functionResponse": {"id": "call_b", "name": "weather", "response": {"result": "21C"}}},
            ]},
            {"role": "model", "parts": [
                {"functionCall": {"id": "call_c", "name": "clock", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_c", "name": "clock", "response": {"result": "[1, 2]"}}},
                {"text": "Thanks"},
            ]},
        ])
    );
}

#[test]
fn bad_messages_are_rejected_with_their_path() {
    let cases = [
        (json!({}), "`messages` must be an array"),
        (
            json!({"messages": []}),
            "`messages` has no user or assistant content to send",
        ),
        (
            json!({"messages": [{"role": "system", "content": "only"}]}),
            "`messages` has no user or assistant content to send",
        ),
        (
            json!({"messages": [{"content": "x"}]}),
            "messages[0].role is missing",
        ),
        (
            json!({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [
                {"id": "k", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "k2", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}),
            "messages[1].tool_calls[1].function.arguments is not a JSON object",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "k", "function": {"name": "f", "arguments": "{oops"}}]}]}),
            "messages[0].tool_calls[0].function.arguments is not a JSON object",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "k", "function": {"arguments": "{}"}}]}]}),
            "messages[0].tool_calls[0].function.name is missing",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "r"}]}),
            "messages[0].tool_call_id is missing",
        ),
        (
            json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "r"}]}),
            "messages[0].tool_call_id `nope` does not match an earlier tool call",
        ),
        (
            json!({"messages": [{"role": "function", "name": "f", "content": "r"}]}),
            "messages[0].role `function` cannot be translated to Gemini",
        ),
        (
            json!({"messages": [{"role": "user", "content": 5}]}),
            "messages[0].content must be a string or an array of parts",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(g_err(req.clone()), want, "request: {req}");
    }
}

#[test]
fn dropped_chat_fields_are_listed() {
    let req = json!({"model": "m", "messages": [], "user": "u", "logit_bias": {"1": 2}, "parallel_tool_calls": false,
        "reasoning_effort": "low", "temperature": 1, "stream": true, "metadata": null});
    assert_eq!(
        dropped_chat_fields(&req),
        vec!["logit_bias", "parallel_tool_calls", "user"]
    );
}

#[test]
fn anthropic_request_composes_into_gemini() {
    let a = json!({
        "model": "claude-x", "max_tokens": 300, "system": [{"type": "text", "text": "Sys"}],
        "stop_sequences": ["Z"], "temperature": 0.5,
        "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": false}}],
        "tool_choice": {"type": "any"},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Find x"}, {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklGR"}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}, {"type": "text", "text": "and?"}]},
        ],
    });
    let chat = translate::anthropic_to_openai_request(&a, "gemini-2.5-flash").unwrap();
    let r = g(chat);
    assert_eq!(
        r,
        json!({
            "systemInstruction": {"parts": [{"text": "Sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Find x"}, {"inlineData": {"mimeType": "image/webp", "data": "UklGR"}}]},
                {"role": "model", "parts": [{"functionCall": {"id": "toolu_1", "name": "lookup", "args": {"q": "x"}}, "thoughtSignature": DUMMY_THOUGHT_SIGNATURE}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": "toolu_1", "name": "lookup", "response": {"result": "found"}}},
                    {"text": "and?"},
                ]},
            ],
            "tools": [{"functionDeclarations": [{"name": "lookup", "description": "Look up",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"maxOutputTokens": 300, "temperature": 0.5, "stopSequences": ["Z"]},
        })
    );
}

// ---------------------------------------------------------------------------
// Responses: Gemini → Chat

fn gemini_answer(finish: &str) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "I should check the weather.", "thought": true},
                {"text": "Let me "},
                {"text": "check."},
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
                {"functionCall": {"id": "fc-9", "name": "clock", "args": {}}},
            ]},
            "finishReason": finish, "index": 0,
            "safetyRatings": [],
        }],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
            "totalTokenCount": 62, "cachedContentTokenCount": 4},
        "modelVersion": "gemini-2.5-flash", "responseId": "abc",
    })
}

#[test]
fn gemini_response_with_text_calls_thoughts_and_usage() {
    let r = gemini_to_chat_response(
        &gemini_answer("STOP"),
        "gw-model",
        "chatcmpl-xyz",
        1_700_000_000,
    );
    assert_eq!(
        r,
        json!({
            "id": "chatcmpl-xyz", "object": "chat.completion", "created": 1_700_000_000u64, "model": "gw-model",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Let me check.", "refusal": null,
                "tool_calls": [
                    {"id": "call_xyz_0", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                     "extra_content": {"google": {"thought_signature": "U0lH"}}},
                    {"id": "fc-9", "type": "function", "function": {"name": "clock", "arguments": "{}"}},
                ],
            }}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 50, "total_tokens": 62,
                "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 30}},
        })
    );
}

#[test]
fn finish_reasons_map() {
    let text_only = |finish: &str| {
        let resp = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": finish}]});
        gemini_to_chat_response(&resp, "m", "id", 0)["choices"][0]["finish_reason"].clone()
    };
    for (g, want) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "stop"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
    ] {
        assert_eq!(text_only(g), want, "{g}");
    }
    // Tool calls cut short by the limit stay `length`.
    let r = gemini_to_chat_response(&gemini_answer("MAX_TOKENS"), "m", "id", 0);
    assert_eq!(r["choices"][0]["finish_reason"], "length");
    // No finishReason at all.
    let r = gemini_to_chat_response(
        &json!({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}),
        "m",
        "id",
        0,
    );
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        r["usage"],
        json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
    );
}

#[test]
fn blocked_prompt_is_a_content_filter_finish() {
    let resp = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}});
    let r = gemini_to_chat_response(&resp, "m", "chatcmpl-1", 3);
    assert_eq!(
        r["choices"][0],
        json!({"index": 0, "logprobs": null, "finish_reason": "content_filter",
            "message": {"role": "assistant", "content": "", "refusal": null}})
    );
    assert_eq!(
        r["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 0, "total_tokens": 8})
    );
}

// ---------------------------------------------------------------------------
// Streams: Gemini → Chat

/// A real-shaped `streamGenerateContent?alt=sse` body, as event data.
fn gemini_sse() -> Vec<String> {
    [
        json!({"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
        json!({"candidates": [{"content": {"parts": [{"text": "thinking…", "thought": true}, {"text": "lo, "}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 2, "totalTokenCount": 11}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
        json!({"candidates": [{"content": {"parts": [{"text": "wörld"}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
        json!({"candidates": [{"content": {"parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Paris", "days": [1, 2]}}, "thoughtSignature": "U0lH"},
                {"functionCall": {"name": "clock", "args": {}}},
            ], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 20, "totalTokenCount": 29}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
        json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 22, "thoughtsTokenCount": 5, "totalTokenCount": 36},
            "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

fn chunk(delta: Value, finish: Value) -> String {
    json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 77, "model": "gw",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null})
    .to_string()
}

#[test]
fn gemini_stream_to_chat_chunks() {
    let mut t = GeminiToChatStream::new("gw", "chatcmpl-s", 77, true);
    let mut out = Vec::new();
    for d in gemini_sse() {
        t.push(&d, &mut out);
    }
    assert!(t.finished_upstream());
    assert!(!t.done);
    t.finish(&mut out);
    t.finish(&mut out);
    t.push(&gemini_sse()[0], &mut out);
    assert!(t.done);
    assert_eq!(t.usage, (9, 27));
    let want = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hel"}), Value::Null),
        chunk(json!({"content": "lo, "}), Value::Null),
        chunk(json!({"content": "wörld"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_s_0", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Paris\",\"days\":[1,2]}"},
                "extra_content": {"google": {"thought_signature": "U0lH"}}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_s_1", "type": "function",
                "function": {"name": "clock", "arguments": "{}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 77, "model": "gw", "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 27, "total_tokens": 36,
                "completion_tokens_details": {"reasoning_tokens": 5}}})
        .to_string(),
        "[DONE]".to_owned(),
    ];
    let got = datas(&out);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        if g == "[DONE]" || w == "[DONE]" {
            assert_eq!(g, w);
        } else {
            assert_eq!(
                serde_json::from_str::<Value>(g).unwrap(),
                serde_json::from_str::<Value>(w).unwrap()
            );
        }
    }
}

#[test]
fn gemini_stream_edge_cases() {
    // No usage requested, stream cut before finishReason: finish says `stop`.
    let mut t = GeminiToChatStream::new("gw", "chatcmpl-s", 77, false);
    let mut out = Vec::new();
    t.push("not json", &mut out);
    t.push("[1,2]", &mut out);
    assert!(out.is_empty());
    t.push(&gemini_sse()[0], &mut out);
    assert!(!t.finished_upstream());
    t.finish(&mut out);
    let v = values(&out);
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(v[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(out.last().unwrap().1, "[DONE]");

    // A blocked prompt.
    let mut t = GeminiToChatStream::new("gw", "chatcmpl-s", 77, true);
    let mut out = Vec::new();
    t.push(
        &json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 4}}).to_string(),
        &mut out,
    );
    assert!(t.finished_upstream());
    t.finish(&mut out);
    let v = values(&out);
    assert_eq!(v[1]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        v[2]["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4})
    );

    // An error mid-stream.
    let mut t = GeminiToChatStream::new("gw", "chatcmpl-s", 77, true);
    let mut out = Vec::new();
    t.push(&gemini_sse()[0], &mut out);
    t.push(
        &json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
            .to_string(),
        &mut out,
    );
    assert!(t.done);
    t.finish(&mut out);
    let d = datas(&out);
    assert_eq!(d.len(), 4);
    assert_eq!(
        serde_json::from_str::<Value>(&d[2]).unwrap(),
        json!({"error": {"message": "overloaded", "type": "api_error", "param": null, "code": null}})
    );
    assert_eq!(d[3], "[DONE]");
}

#[test]
fn gemini_stream_composes_into_anthropic_tool_use() {
    let mut g2c = GeminiToChatStream::new("gw", "chatcmpl-s", 77, true);
    let mut a = OpenAiToAnthropic::new("claude-face");
    let mut chat = Vec::new();
    for d in gemini_sse() {
        g2c.push(&d, &mut chat);
    }
    g2c.finish(&mut chat);
    let mut events = Vec::new();
    for (_, d) in &chat {
        a.push(d, &mut events);
    }
    a.finish(&mut events);
    assert!(a.done && a.finished_upstream());
    let evs: Vec<(Option<&str>, Value)> = events
        .iter()
        .map(|(n, d)| (*n, serde_json::from_str(d).unwrap()))
        .collect();
    let text: String = evs
        .iter()
        .filter_map(|(_, e)| e.pointer("/delta/text").and_then(Value::as_str))
        .collect();
    assert_eq!(text, "Hello, wörld");
    // Rebuild each tool_use block's input from its input_json_delta fragments.
    let mut tools: Vec<(u64, Value, String)> = Vec::new();
    for (_, e) in &evs {
        if e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use" {
            tools.push((
                e["index"].as_u64().unwrap(),
                e["content_block"].clone(),
                String::new(),
            ));
        }
        if e["delta"]["type"] == "input_json_delta" {
            let i = e["index"].as_u64().unwrap();
            let t = tools.iter_mut().find(|t| t.0 == i).unwrap();
            t.2.push_str(e["delta"]["partial_json"].as_str().unwrap());
        }
    }
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].1["name"], "weather");
    assert_eq!(tools[0].1["id"], "call_s_0");
    assert_eq!(
        serde_json::from_str::<Value>(&tools[0].2).unwrap(),
        json!({"city": "Paris", "days": [1, 2]})
    );
    assert_eq!(tools[1].1["name"], "clock");
    assert_eq!(
        serde_json::from_str::<Value>(&tools[1].2).unwrap(),
        json!({})
    );
    let delta = evs
        .iter()
        .find(|(n, _)| *n == Some("message_delta"))
        .unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta.1["usage"],
        json!({"input_tokens": 9, "output_tokens": 27})
    );
    assert_eq!(evs.last().unwrap().0, Some("message_stop"));
}

// ---------------------------------------------------------------------------
// Requests: Gemini → Chat

#[test]
fn gemini_request_to_chat() {
    let r = gemini_to_chat_request(
        &json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use French."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/cat.jpg"}}]},
                {"role": "model", "parts": [{"text": "A cat."}]},
                {"parts": [{"text": "Sure?"}]},
            ],
            "generationConfig": {"temperature": 0.2, "topP": 0.8, "topK": 40, "maxOutputTokens": 128,
                "stopSequences": ["END"], "candidateCount": 1, "seed": 3, "presencePenalty": 0.1, "frequencyPenalty": 0.2},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        }),
        "up",
        true,
    )
    .unwrap();
    assert_eq!(
        r,
        json!({
            "model": "up",
            "messages": [
                {"role": "system", "content": "Be brief.\nUse French."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.jpg"}},
                ]},
                {"role": "assistant", "content": "A cat."},
                {"role": "user", "content": "Sure?"},
            ],
            "temperature": 0.2, "top_p": 0.8, "max_tokens": 128, "stop": ["END"], "seed": 3,
            "presence_penalty": 0.1, "frequency_penalty": 0.2,
            "stream": true, "stream_options": {"include_usage": true},
        })
    );
}

#[test]
fn snake_case_aliases_are_accepted() {
    let r = c(json!({
        "system_instruction": {"parts": [{"text": "S"}]},
        "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/jpeg", "data": "AA"}}]}],
        "generation_config": {"max_output_tokens": "64", "response_mime_type": "application/json"},
    }));
    assert_eq!(
        r,
        json!({"model": "up", "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AA"}}]},
        ], "max_tokens": 64, "response_format": {"type": "json_object"}})
    );
}

#[test]
fn function_calls_get_ids_matched_to_responses() {
    let r = c(json!({"contents": [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome, and the time?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
            {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
            {"functionCall": {"id": "given-1", "name": "clock", "args": {}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"id": "given-1", "name": "clock", "response": {"time": "12:00"}}},
            {"functionResponse": {"name": "weather", "response": {"result": "18C"}}},
            {"functionResponse": {"name": "weather", "response": {"result": "21C"}}},
        ]},
        {"role": "model", "parts": [{"text": "Paris 18C, Rome 21C. "}]},
        {"role": "model", "parts": [{"text": "Checking once more."}, {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}]},
        {"role": "function", "parts": [{"functionResponse": {"name": "weather", "response": {"temp": -3}}}, {"text": "Done?"}]},
    ]}));
    assert_eq!(
        r["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Rome, and the time?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
                {"id": "given-1", "type": "function", "function": {"name": "clock", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "given-1", "content": "{\"time\":\"12:00\"}"},
            {"role": "tool", "tool_call_id": "call_0", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
            {"role": "assistant", "content": "Paris 18C, Rome 21C. Checking once more.", "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_2", "content": "{\"temp\":-3}"},
            {"role": "user", "content": "Done?"},
        ])
    );
}

#[test]
fn chat_gemini_chat_round_trip_keeps_the_conversation() {
    let chat = json!({"model": "up", "messages": [
        {"role": "system", "content": "Sys"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "r"},
        {"role": "assistant", "content": "done"},
    ]});
    let back = c(g(chat.clone()));
    assert_eq!(back, chat);
}

#[test]
fn gemini_tools_and_tool_config_to_chat() {
    let base = json!({
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [
            {"name": "weather", "description": "Weather", "parameters": {"type": "OBJECT", "properties": {
                "city": {"type": "STRING", "nullable": true},
                "unit": {"type": "STRING", "format": "enum", "enum": ["c", "f"]},
                "days": {"type": "ARRAY", "items": {"type": "INTEGER"}, "maxItems": "5"}},
                "required": ["city"], "propertyOrdering": ["city", "unit", "days"]}},
            {"name": "clock"},
            {"name": "raw", "parametersJsonSchema": {"type": "object", "additionalProperties": false}},
        ]}],
    });
    let r = c(base.clone());
    assert_eq!(
        r["tools"],
        json!([
            {"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {
                "type": "object", "properties": {
                    "city": {"type": ["string", "null"]},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "days": {"type": "array", "items": {"type": "integer"}, "maxItems": 5}},
                "required": ["city"]}}},
            {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "raw", "parameters": {"type": "object", "additionalProperties": false}}},
        ])
    );
    assert!(r.get("tool_choice").is_none());
    let with = |fcc: Value| {
        let mut req = base.clone();
        req["toolConfig"] = json!({"functionCallingConfig": fcc});
        c(req)
    };
    assert_eq!(with(json!({"mode": "AUTO"}))["tool_choice"], "auto");
    assert_eq!(with(json!({"mode": "NONE"}))["tool_choice"], "none");
    assert_eq!(with(json!({"mode": "ANY"}))["tool_choice"], "required");
    assert_eq!(
        with(json!({"mode": "ANY", "allowedFunctionNames": ["clock"]}))["tool_choice"],
        json!({"type": "function", "function": {"name": "clock"}})
    );
    let r = with(json!({"mode": "ANY", "allowedFunctionNames": ["clock", "raw"]}));
    assert_eq!(r["tool_choice"], "required");
    let names: Vec<&str> = r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clock", "raw"]);
    assert_eq!(
        c_err(json!({"contents": [], "tools": [{"googleSearch": {}}]})),
        "tools[0].googleSearch cannot be translated to Chat Completions (only functionDeclarations)"
    );
}

#[test]
fn gemini_response_schema_to_response_format() {
    let r = c(
        json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "ARRAY", "items": {"type": "STRING"}}}}),
    );
    assert_eq!(
        r["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "array", "items": {"type": "string"}}}})
    );
    let r = c(
        json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {
        "responseMimeType": "application/json", "responseJsonSchema": {"type": "object", "additionalProperties": false}}}),
    );
    assert_eq!(
        r["response_format"]["json_schema"]["schema"],
        json!({"type": "object", "additionalProperties": false})
    );
    assert_eq!(
        c_err(
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "text/x.enum"}})
        ),
        "generationConfig.responseMimeType `text/x.enum` cannot be translated to Chat Completions"
    );
}

#[test]
fn bad_gemini_requests_are_rejected_with_their_path() {
    let cases = [
        (json!({}), "`contents` must be an array"),
        (
            json!({"contents": [{"role": "user"}]}),
            "contents[0].parts must be an array",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "system", "parts": []}]}),
            "contents[1].role `system` is not supported",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}, {"executableCode": {"code": "1"}}]}]}),
            "contents[1].parts[1] cannot be translated to Chat Completions (model parts: text, functionCall)",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "a"}, {"functionResponse": {"name": "f", "response": {}}}]}]}),
            "contents[0].parts[1].functionResponse `f` does not answer an earlier functionCall",
        ),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}, {"functionResponse": {"name": "f", "response": {}}}]}]}),
            "contents[1].parts[1].functionResponse `f` does not answer an earlier functionCall",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]}),
            "contents[0].parts[0]: a functionCall must be in a `model` turn",
        ),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]}),
            "contents[0].parts[0].functionCall.name is missing",
        ),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}]}),
            "contents[0].parts[0].functionCall.args must be an object",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "video/mp4", "data": "AA"}}]}]}),
            "contents[0].parts[0].inlineData.mimeType `video/mp4` cannot be translated to Chat Completions",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]}),
            "contents[0].parts[0].fileData `https://generativelanguage.googleapis.com/v1beta/files/abc` cannot be resolved by the gateway (only http(s) image URLs); send inlineData",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
            "toolConfig.functionCallingConfig.mode `SOMETIMES` is not supported",
        ),
        (
            json!({"contents": [], "cachedContent": "cachedContents/abc"}),
            "`cachedContent` cannot be resolved by the gateway; send the contents",
        ),
        (
            json!({"contents": [], "tools": [{"functionDeclarations": [{"description": "no name"}]}]}),
            "tools[0].functionDeclarations[0].name is missing",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(c_err(req.clone()), want, "request: {req}");
    }
}

#[test]
fn dropped_gemini_fields_are_listed() {
    let req = json!({"contents": [], "safetySettings": [], "cachedContent": null, "labels": {"a": "b"},
        "generationConfig": {"temperature": 1, "topK": 3, "thinking_config": {"thinkingBudget": 0}, "responseLogprobs": true}});
    assert_eq!(
        dropped_gemini_fields(&req),
        vec![
            "labels",
            "safetySettings",
            "generationConfig.responseLogprobs",
            "generationConfig.thinkingConfig",
            "generationConfig.topK"
        ]
    );
}

// ---------------------------------------------------------------------------
// Responses: Chat → Gemini

#[test]
fn chat_completion_to_gemini_response() {
    let chat = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "gpt-x",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": ""}},
                {"id": "call_c", "type": "function", "function": {"name": "bad", "arguments": "{oops"}},
            ]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 10}},
    });
    assert_eq!(
        chat_to_gemini_response(&chat, "gpt-x-2025"),
        json!({
            "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_b", "name": "clock", "args": {}}},
                {"functionCall": {"id": "call_c", "name": "bad", "args": {"_raw_arguments": "{oops"}}},
            ]}}],
            "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 20, "thoughtsTokenCount": 10,
                "totalTokenCount": 50, "cachedContentTokenCount": 8},
            "modelVersion": "gpt-x-2025", "responseId": "chatcmpl-1",
        })
    );
    for (finish, want) in [
        ("stop", "STOP"),
        ("length", "MAX_TOKENS"),
        ("content_filter", "SAFETY"),
        ("tool_calls", "STOP"),
        ("function_call", "STOP"),
    ] {
        let r = chat_to_gemini_response(
            &json!({"choices": [{"finish_reason": finish, "message": {"content": "x"}}]}),
            "v",
        );
        assert_eq!(r["candidates"][0]["finishReason"], want);
        assert!(r.get("usageMetadata").is_none());
    }
}

#[test]
fn gemini_errors_use_google_status_names() {
    assert_eq!(
        gemini_error(400, "bad"),
        json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
    );
    for (code, status) in [
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (502, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
        (413, "INVALID_ARGUMENT"),
        (418, "FAILED_PRECONDITION"),
    ] {
        assert_eq!(gemini_error(code, "m")["error"]["status"], status, "{code}");
    }
}

// ---------------------------------------------------------------------------
// Streams: Chat → Gemini

const CHAT_SSE: [&str; 8] = [
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Bon"}}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"jour"}}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"ci"}}]}}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"clock","arguments":""}},{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]}}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}"#,
    "[DONE]",
];

#[test]
fn chat_stream_to_gemini_chunks() {
    let mut t = ChatToGeminiStream::new("gpt-x-2025");
    let mut out = Vec::new();
    for d in CHAT_SSE {
        t.push(d, &mut out);
    }
    assert!(t.finished_upstream() && !t.done());
    t.finish(&mut out);
    t.finish(&mut out);
    assert!(t.done());
    assert_eq!(t.usage(), (11, 7));
    assert_eq!(
        values(&out),
        vec![
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Bon"}]}, "index": 0}],
                "modelVersion": "gpt-x-2025", "responseId": "chatcmpl-9"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "jour"}]}, "index": 0}],
                "modelVersion": "gpt-x-2025", "responseId": "chatcmpl-9"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [
                    {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"id": "call_b", "name": "clock", "args": {}}},
                ]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18},
                "modelVersion": "gpt-x-2025", "responseId": "chatcmpl-9"}),
        ]
    );
    assert!(datas(&out).iter().all(|d| d != "[DONE]"));
}

#[test]
fn chat_stream_to_gemini_edge_cases() {
    // Length finish, no usage.
    let mut t = ChatToGeminiStream::new("v");
    let mut out = Vec::new();
    t.push(
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"ab"},"finish_reason":"length"}]}"#,
        &mut out,
    );
    t.finish(&mut out);
    let v = values(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1]["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(v[1]["candidates"][0]["content"]["parts"], json!([]));
    assert!(v[1].get("usageMetadata").is_none());
    // An upstream error.
    let mut t = ChatToGeminiStream::new("v");
    let mut out = Vec::new();
    t.push(r#"{"error":{"message":"boom"}}"#, &mut out);
    t.finish(&mut out);
    assert_eq!(
        values(&out),
        vec![json!({"error": {"code": 500, "message": "boom", "status": "INTERNAL"}})]
    );
    // A reused index with a new id is a new call.
    let mut t = ChatToGeminiStream::new("v");
    let mut out = Vec::new();
    t.push(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]}"#, &mut out);
    t.push(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"y","function":{"name":"g","arguments":"{\"a\":1}"}}]}}]}"#, &mut out);
    t.finish(&mut out);
    assert_eq!(
        values(&out)[0]["candidates"][0]["content"]["parts"],
        json!([
            {"functionCall": {"id": "x", "name": "f", "args": {}}},
            {"functionCall": {"id": "y", "name": "g", "args": {"a": 1}}},
        ])
    );
}

// ---------------------------------------------------------------------------
// Properties

/// (text, function calls) a Gemini client sees.
fn gemini_final(out: &[Out]) -> (String, Vec<Value>, Vec<String>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut finish = Vec::new();
    for v in values(out) {
        for p in v["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(t) = p["text"].as_str() {
                text.push_str(t);
            }
            if p.get("functionCall").is_some() {
                calls.push(p["functionCall"].clone());
            }
        }
        if let Some(f) = v["candidates"][0]["finishReason"].as_str() {
            finish.push(f.to_owned());
        }
    }
    (text, calls, finish)
}

/// Re-chunks a completion's text and tool arguments at `cuts` into chat
/// chunk data.
fn rechunk(text: &str, calls: &[(&str, &str, &str)], cuts: &[usize]) -> Vec<String> {
    fn pieces(s: &str, cuts: &[usize]) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut last = 0;
        for p in points {
            out.push(chars[last..p].iter().collect());
            last = p;
        }
        out.push(chars[last..].iter().collect());
        out
    }
    let mut out = Vec::new();
    for p in pieces(text, cuts) {
        out.push(
            json!({"id": "c", "choices": [{"index": 0, "delta": {"content": p}}]}).to_string(),
        );
    }
    for (i, (id, name, args)) in calls.iter().enumerate() {
        for (k, p) in pieces(args, cuts).into_iter().enumerate() {
            let tc = if k == 0 {
                json!({"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": p}})
            } else {
                json!({"index": i, "function": {"arguments": p}})
            };
            out.push(
                json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [tc]}}]})
                    .to_string(),
            );
        }
    }
    out.push(
        json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
            .to_string(),
    );
    out.push("[DONE]".to_owned());
    out
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z_:/.{}\" ]{0,10}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("model"),
            Just("assistant"),
            Just("tool"),
            Just("system"),
            Just("function"),
            Just("text"),
            Just("image_url"),
            Just("STOP"),
            Just("ANY"),
            Just("application/json"),
            Just("data:image/png;base64,AA"),
            Just("#/$defs/x"),
            Just("{\"a\":1}"),
            Just("object"),
            Just("null"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("role"),
                        Just("content"),
                        Just("parts"),
                        Just("contents"),
                        Just("messages"),
                        Just("text"),
                        Just("functionCall"),
                        Just("functionResponse"),
                        Just("function_call"),
                        Just("name"),
                        Just("args"),
                        Just("id"),
                        Just("response"),
                        Just("tool_calls"),
                        Just("tool_call_id"),
                        Just("function"),
                        Just("arguments"),
                        Just("type"),
                        Just("candidates"),
                        Just("finishReason"),
                        Just("usageMetadata"),
                        Just("choices"),
                        Just("delta"),
                        Just("index"),
                        Just("tools"),
                        Just("functionDeclarations"),
                        Just("parameters"),
                        Just("properties"),
                        Just("items"),
                        Just("anyOf"),
                        Just("allOf"),
                        Just("$ref"),
                        Just("$defs"),
                        Just("toolConfig"),
                        Just("functionCallingConfig"),
                        Just("mode"),
                        Just("allowedFunctionNames"),
                        Just("generationConfig"),
                        Just("responseSchema"),
                        Just("inlineData"),
                        Just("mimeType"),
                        Just("data"),
                        Just("image_url"),
                        Just("url"),
                        Just("usage"),
                        Just("finish_reason"),
                        Just("thought"),
                        Just("promptFeedback"),
                        Just("blockReason"),
                        Just("systemInstruction"),
                        Just("error"),
                        Just("response_format"),
                        Just("json_schema"),
                        Just("schema"),
                        Just("nullable"),
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

fn run_all(v: &Value) {
    let _ = chat_to_gemini_request(v);
    let _ = dropped_chat_fields(v);
    let _ = dropped_gemini_fields(v);
    let _ = gemini_to_chat_request(v, "m", true);
    let _ = gemini_to_chat_response(v, "m", "chatcmpl-x", 0);
    let _ = chat_to_gemini_response(v, "v");
    let _ = clean_schema(v);
    let _ = gemini::schema_to_json_schema(v);
    let s = v.to_string();
    let mut out = Vec::new();
    let mut a = GeminiToChatStream::new("m", "chatcmpl-x", 0, true);
    a.push(&s, &mut out);
    a.finish(&mut out);
    let mut b = ChatToGeminiStream::new("v");
    b.push(&s, &mut out);
    b.finish(&mut out);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chat_stream_chunking_does_not_change_the_gemini_answer(
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        text in "[a-zé✓ ]{0,20}",
    ) {
        let calls = [("call_1", "weather", "{\"city\":\"Paris\",\"days\":[1,2]}"), ("call_2", "clock", "{}")];
        let mut t = ChatToGeminiStream::new("v");
        let mut out = Vec::new();
        for d in rechunk(&text, &calls, &cuts) {
            t.push(&d, &mut out);
        }
        t.finish(&mut out);
        let (got_text, got_calls, finish) = gemini_final(&out);
        prop_assert_eq!(got_text, text);
        prop_assert_eq!(got_calls, vec![
            json!({"id": "call_1", "name": "weather", "args": {"city": "Paris", "days": [1, 2]}}),
            json!({"id": "call_2", "name": "clock", "args": {}}),
        ]);
        prop_assert_eq!(finish, vec!["STOP".to_owned()]);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        run_all(&v);
        run_all(&json!({"messages": [v.clone()], "contents": [v.clone()], "candidates": [v.clone()], "choices": [v.clone()]}));
        run_all(&json!({"contents": [{"role": "model", "parts": [v.clone()]}, {"role": "user", "parts": [v.clone()]}]}));
        run_all(&json!({"messages": [{"role": "user", "content": [v.clone()]}], "tools": [{"type": "function", "function": {"name": "f", "parameters": v.clone()}}]}));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,64}") {
        run_all(&Value::String(s.clone()));
        let mut out = Vec::new();
        let mut a = GeminiToChatStream::new("m", &s, 0, true);
        a.push(&s, &mut out);
        a.finish(&mut out);
        let mut b = ChatToGeminiStream::new(&s);
        b.push(&s, &mut out);
        b.finish(&mut out);
        run_all(&json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": s.clone()}}]},
            {"role": "assistant", "tool_calls": [{"id": s.clone(), "function": {"name": "f", "arguments": s.clone()}}]},
            {"role": "tool", "tool_call_id": s.clone(), "content": s.clone()}]}));
    }
}

#[test]
fn reasoning_effort_becomes_a_thinking_budget() {
    let g = |effort: &str| {
        chat_to_gemini_request(
            &json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}),
        )
        .unwrap()["generationConfig"]["thinkingConfig"]
            .clone()
    };
    assert_eq!(g("low"), json!({"thinkingBudget": 1024}));
    assert_eq!(g("high"), json!({"thinkingBudget": 16384}));
    assert_eq!(g("minimal"), json!({"thinkingBudget": 0}));
    assert_eq!(g("unheard-of"), Value::Null);
}
