//! Cross-protocol requests end to end: an OpenAI client on an Anthropic
//! upstream and an Anthropic client on an OpenAI upstream, streamed or not,
//! with tools and tool results.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Mock, Reply, awkward_chunks, client, gateway, sse_events};
use serde_json::{Value, json};

fn ini(openai: &str, anthropic: &str) -> String {
    format!(
        "[provider.oa]\ntype = openai\nbase_url = {openai}/v1\napi_key = sk-oa\n\
         [provider.an]\ntype = anthropic\nbase_url = {anthropic}\napi_key = sk-an\n\
         [routes]\nclaude-* = an\ngpt-* = oa\n"
    )
}

const ANTHROPIC_TOOL_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco\\\", \\\"unit\\\": \\\"c\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"elsius\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const OPENAI_TOOL_STREAM: &str = concat!(
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"lo\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"cation\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_def\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":80,\"completion_tokens\":21,\"total_tokens\":101}}\n\n",
    "data: [DONE]\n\n",
);

async fn post(url: String, body: Value) -> reqwest::Response {
    client().post(url).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn openai_client_on_anthropic_upstream() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    an.push(Reply::Json(200, json!({
        "id": "msg_9", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"location": "Oslo"}}],
        "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 30, "output_tokens": 12}
    }).to_string()));
    let r = post(format!("{}/v1/chat/completions", gw.url), json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "user", "content": "And Oslo?"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
        "tool_choice": "required",
        "stop": "END",
        "temperature": 1.5
    })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "an");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Checking.");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_9");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "Oslo"})
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42})
    );

    let seen = &an.seen()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-an");
    let b = &seen.body;
    assert_eq!(b["system"], "Be terse.");
    assert_eq!(b["max_tokens"], 4096);
    assert_eq!(b["temperature"], 1.0);
    assert_eq!(b["stop_sequences"], json!(["END"]));
    assert_eq!(b["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        b["tools"][0]["input_schema"]["properties"]["location"]["type"],
        "string"
    );
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(
        msgs[0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}})
    );
    assert_eq!(
        msgs[1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Rome"}})
    );
    // The tool result and the next user turn share one user message.
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(
        msgs[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"})
    );
    assert_eq!(
        msgs[2]["content"][1],
        json!({"type": "text", "text": "And Oslo?"})
    );
    gw.stop().await;
}

#[tokio::test]
async fn openai_client_streams_from_anthropic_with_a_tool_call() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    for size in [5, 37, 4096] {
        an.push(Reply::Stream {
            chunks: awkward_chunks(ANTHROPIC_TOOL_STREAM, size),
            pause: Duration::ZERO,
        });
        let body = post(format!("{}/v1/chat/completions", gw.url), json!({
            "model": "claude-sonnet-4-5", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "weather in SF"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
        })).await.text().await.unwrap();
        let events = sse_events(&body);
        assert_eq!(events.last().unwrap().1, "[DONE]", "{body}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk")
        );
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Let me check");
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"location": "San Francisco", "unit": "celsius"})
        );
        let first_call = chunks
            .iter()
            .find(|c| !c["choices"][0]["delta"]["tool_calls"].is_null())
            .unwrap();
        assert_eq!(
            first_call["choices"][0]["delta"]["tool_calls"][0]["id"],
            "toolu_01"
        );
        assert_eq!(
            first_call["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        let finish: Vec<&str> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .collect();
        assert_eq!(finish, ["tool_calls"]);
        let last = chunks.last().unwrap();
        assert_eq!(
            last["usage"],
            json!({"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561})
        );
    }
    assert_eq!(an.seen()[0].body["stream"], true);
    gw.stop().await;
}

#[tokio::test]
async fn anthropic_client_on_openai_upstream() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    oa.push(Reply::Json(200, json!({
        "id": "chatcmpl-5", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_5", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"rust\"}"}}
        ]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}
    }).to_string()));
    let r = post(format!("{}/v1/messages", gw.url), json!({
        "model": "gpt-4o", "max_tokens": 100,
        "system": [{"type": "text", "text": "You are helpful."}],
        "messages": [
            {"role": "user", "content": "find rust"},
            {"role": "assistant", "content": [{"type": "text", "text": "Searching"}, {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "go"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "no results"}]}, {"type": "text", "text": "try rust"}]}
        ],
        "tools": [{"name": "lookup", "description": "search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "lookup", "disable_parallel_tool_use": true},
        "stop_sequences": ["STOP"], "top_k": 5
    })).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["content"][0],
        json!({"type": "tool_use", "id": "call_5", "name": "lookup", "input": {"q": "rust"}})
    );
    assert_eq!(v["usage"], json!({"input_tokens": 11, "output_tokens": 6}));
    let b = &oa.seen()[0].body;
    assert_eq!(oa.seen()[0].headers["authorization"], "Bearer sk-oa");
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0],
        json!({"role": "system", "content": "You are helpful."})
    );
    assert_eq!(msgs[1], json!({"role": "user", "content": "find rust"}));
    assert_eq!(
        msgs[2]["tool_calls"][0]["function"]["arguments"],
        "{\"q\":\"go\"}"
    );
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "no results"})
    );
    assert_eq!(msgs[4], json!({"role": "user", "content": "try rust"}));
    assert_eq!(
        b["tools"][0]["function"]["parameters"]["properties"]["q"]["type"],
        "string"
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "function", "function": {"name": "lookup"}})
    );
    assert_eq!(b["parallel_tool_calls"], false);
    assert_eq!(b["stop"], json!(["STOP"]));
    assert!(b.get("top_k").is_none());
    gw.stop().await;
}

#[tokio::test]
async fn anthropic_client_streams_tool_calls_from_openai() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    for size in [3, 50, 4096] {
        oa.push(Reply::Stream {
            chunks: awkward_chunks(OPENAI_TOOL_STREAM, size),
            pause: Duration::ZERO,
        });
        let body = post(
            format!("{}/anthropic/v1/messages", gw.url),
            json!({
                "model": "gpt-4o", "max_tokens": 100, "stream": true,
                "messages": [{"role": "user", "content": "weather and time in Paris"}]
            }),
        )
        .await
        .text()
        .await
        .unwrap();
        let events = sse_events(&body);
        let names: Vec<&str> = events
            .iter()
            .map(|(e, _)| e.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names.first(), Some(&"message_start"), "{body}");
        assert_eq!(names.last(), Some(&"message_stop"));
        let data: Vec<Value> = events
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        for (name, d) in names.iter().zip(&data) {
            assert_eq!(d["type"], *name, "event name and data type agree");
        }
        // Two tool_use blocks, each rebuilt exactly from its input_json_delta fragments.
        let starts: Vec<&Value> = data
            .iter()
            .filter(|d| d["type"] == "content_block_start")
            .collect();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[0]["content_block"]["id"], "call_abc");
        assert_eq!(starts[0]["content_block"]["name"], "get_weather");
        assert_eq!(starts[1]["content_block"]["name"], "get_time");
        for (i, start) in starts.iter().enumerate() {
            let index = &start["index"];
            let json_text: String = data
                .iter()
                .filter(|d| d["type"] == "content_block_delta" && &d["index"] == index)
                .filter_map(|d| d["delta"]["partial_json"].as_str())
                .collect();
            let want = if i == 0 {
                json!({"location": "Paris"})
            } else {
                json!({})
            };
            assert_eq!(
                serde_json::from_str::<Value>(&json_text).unwrap(),
                want,
                "block {i}: {json_text}"
            );
            assert_eq!(
                data.iter()
                    .filter(|d| d["type"] == "content_block_stop" && &d["index"] == index)
                    .count(),
                1
            );
        }
        let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"]["output_tokens"], 21);
        assert_eq!(delta["usage"]["input_tokens"], 80);
    }
    let b = &oa.seen()[0].body;
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"]["include_usage"], true);
    gw.stop().await;
}

#[tokio::test]
async fn untranslatable_requests_get_a_clear_400() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    let r = post(format!("{}/v1/chat/completions", gw.url), json!({
        "model": "claude-x",
        "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]
    })).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("messages[0].tool_calls[0].function.arguments"),
        "{msg}"
    );
    assert_eq!(an.hits(), 0);
    gw.stop().await;
}

// ---------------------------------------------------------------------------
// The Responses API (/v1/responses)

fn openai_completion(text: &str) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    })
    .to_string()
}

/// The event names of an SSE body, and the data of its last event.
fn event_names(body: &str) -> (Vec<String>, Value) {
    let events = sse_events(body);
    let last = serde_json::from_str(&events.last().unwrap().1).unwrap();
    (
        events
            .into_iter()
            .map(|(e, _)| e.unwrap_or_default())
            .collect(),
        last,
    )
}

#[tokio::test]
async fn responses_on_the_loopback_model() {
    let gw = gateway("", &["ledger.flush_interval=20ms"]).await;
    let url = format!("{}/v1/responses", gw.url);
    let r = post(
        url.clone(),
        json!({"model": "loopback", "input": "hello there", "instructions": "be brief"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "loopback");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["object"].as_str(), v["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "loopback: hello there"
    );
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["instructions"], "be brief");

    // Streamed: the event sequence clients expect, numbered from 0.
    let r = post(
        url.clone(),
        json!({"model": "loopback", "input": "one two three", "stream": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    let (names, last) = event_names(&body);
    assert_eq!(
        names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(names.last().unwrap(), "response.completed");
    assert!(names.iter().any(|n| n == "response.output_text.done"));
    let deltas: String = sse_events(&body)
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("response.output_text.delta"))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(deltas, "loopback: one two three");
    let seq: Vec<u64> = sse_events(&body)
        .iter()
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["sequence_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seq, (0..seq.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        last["response"]["output"][0]["content"][0]["text"],
        "loopback: one two three"
    );
    assert!(last["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0);

    // Bad requests get OpenAI-shaped 400s naming the problem.
    for (body, needle) in [
        (json!({"input": "x"}), "`model` is required"),
        (json!({"model": "loopback", "input": 5}), "`input`"),
        (
            json!({"model": "loopback", "input": "x", "tools": [{"type": "web_search"}]}),
            "web_search",
        ),
        (
            json!({"model": "loopback", "input": "x", "previous_response_id": "resp_nope"}),
            "resp_nope",
        ),
    ] {
        let r = post(url.clone(), body.clone()).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert!(status == 400 || status == 404, "{body}: {status}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    // A graceful stop writes every queued row.
    let url = gw.store_url();
    let _dir = gw.stop().await;
    let store = tokgateway_store::Store::connect(&url).await.unwrap();
    let rows = store
        .usage_log(&tokgateway_store::LogQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let ours: Vec<_> = rows
        .data
        .iter()
        .filter(|r| r.endpoint == "/v1/responses")
        .collect();
    assert!(ours.len() >= 2, "{:?}", rows.data);
    assert!(
        ours.iter()
            .any(|r| r.streamed && r.status == 200 && r.completion_tokens > 0),
        "{ours:?}"
    );
}

#[tokio::test]
async fn responses_continue_a_conversation_across_a_restart() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = ini(&oa.url, &an.url);
    let start = |dir: &std::path::Path| {
        let s = common::settings_in(dir, &ini, &[]);
        async move { tokgateway_gatewayd::start(s).await.unwrap() }
    };
    let gw = start(dir.path()).await;
    oa.push(Reply::Json(200, openai_completion("Paris.")));
    let first: Value = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gpt-4o", "instructions": "Answer in one word.", "input": "Capital of France?"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(first["output"][0]["content"][0]["text"], "Paris.");
    let id = first["id"].as_str().unwrap().to_owned();
    let got: Value = client()
        .get(format!("{}/v1/responses/{id}", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, first, "GET returns the stored response");
    gw.stop().await;

    // A new gatewayd on the same store continues it, on an Anthropic upstream this time.
    let gw = start(dir.path()).await;
    an.push(Reply::Json(200, json!({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Berlin."}],
        "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 20, "output_tokens": 2}
    }).to_string()));
    let second = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "claude-sonnet-4-5", "previous_response_id": id, "input": "And Germany?"}),
    )
    .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["output"][0]["content"][0]["text"], "Berlin.");
    assert_eq!(second["previous_response_id"], id.as_str());
    assert_eq!(second["usage"]["input_tokens"], 20);
    let sent = &an.seen()[0].body;
    // As at OpenAI, instructions do not carry over to the next response.
    assert_eq!(sent.get("system"), None);
    let turns: Vec<(String, String)> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = match &m["content"] {
                Value::String(s) => s.clone(),
                c => c[0]["text"].as_str().unwrap_or_default().to_owned(),
            };
            (m["role"].as_str().unwrap().to_owned(), text)
        })
        .collect();
    assert_eq!(
        turns,
        [
            ("user".into(), "Capital of France?".into()),
            ("assistant".into(), "Paris.".into()),
            ("user".into(), "And Germany?".into())
        ]
    );

    // `store: false` keeps nothing; DELETE removes a stored one.
    oa.push(Reply::Json(200, openai_completion("ok")));
    let unstored: Value = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gpt-4o", "input": "x", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    let get = |id: &str| client().get(format!("{}/v1/responses/{id}", gw.url)).send();
    assert_eq!(
        get(unstored["id"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        404
    );
    let del: Value = client()
        .delete(format!("{}/v1/responses/{id}", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        del,
        json!({"id": id, "object": "response", "deleted": true})
    );
    assert_eq!(get(&id).await.unwrap().status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn responses_stream_tool_calls_and_tool_outputs() {
    let oa = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&ini(&oa.url, &an.url), &[]).await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]);

    // An OpenAI upstream streams two tool calls; the client gets function_call items.
    oa.push(Reply::Stream {
        chunks: awkward_chunks(OPENAI_TOOL_STREAM, 37),
        pause: Duration::ZERO,
    });
    let body = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gpt-4o", "input": "weather?", "tools": tools, "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    let (names, last) = event_names(&body);
    assert_eq!(names.last().unwrap(), "response.completed", "{body}");
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "response.function_call_arguments.done")
            .count(),
        2
    );
    let out = &last["response"]["output"];
    assert_eq!(out[0]["type"], "function_call");
    assert_eq!(
        (out[0]["name"].as_str(), out[0]["call_id"].as_str()),
        (Some("get_weather"), Some("call_abc"))
    );
    assert_eq!(out[0]["arguments"], "{\"location\": \"Paris\"}");
    assert_eq!(out[1]["name"], "get_time");
    assert_eq!(last["response"]["usage"]["input_tokens"], 80);
    let sent = &oa.seen()[0].body;
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["stream"], true);

    // The tool's output goes back as a function_call_output item; on an
    // Anthropic upstream, streamed, with Anthropic's own tool stream in reply.
    an.push(Reply::Stream {
        chunks: awkward_chunks(ANTHROPIC_TOOL_STREAM, 29),
        pause: Duration::ZERO,
    });
    let body = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "claude-sonnet-4-5", "stream": true, "tools": tools, "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_abc", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_abc", "output": "sunny"}
        ]}),
    )
    .await
    .text()
    .await
    .unwrap();
    let sent = &an.seen()[0].body;
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
    assert_eq!(msgs[1]["content"][0]["input"], json!({"location": "Paris"}));
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], "call_abc");
    let (names, last) = event_names(&body);
    assert_eq!(names.last().unwrap(), "response.completed", "{body}");
    let out = last["response"]["output"].as_array().unwrap();
    assert_eq!(out[0]["content"][0]["text"], "Let me check");
    assert_eq!(out[1]["type"], "function_call");
    assert_eq!(
        serde_json::from_str::<Value>(out[1]["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "San Francisco", "unit": "celsius"})
    );
    assert_eq!(last["response"]["usage"]["input_tokens"], 472);
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn responses_pass_through_to_upstreams_that_serve_them() {
    let oa = Mock::start().await;
    let ini = format!(
        "[provider.native]\ntype = openai\nbase_url = {}/v1\napi_key = sk-n\nresponses = true\n\
         [routes]\ngpt-* = native\n[aliases]\nfast = gpt-5\n",
        oa.url
    );
    let gw = gateway(&ini, &["ledger.flush_interval=20ms"]).await;
    let reply = json!({"id": "resp_up", "object": "response", "status": "completed", "model": "gpt-5",
        "output": [], "usage": {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}});
    oa.push(Reply::Json(200, reply.to_string()));
    let r = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "fast", "input": "hi", "reasoning": {"effort": "high"}, "include": ["reasoning.encrypted_content"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        reply,
        "the upstream's answer as it is"
    );
    let seen = &oa.seen()[0];
    assert_eq!(seen.path, "/v1/responses");
    assert_eq!(seen.body["model"], "gpt-5", "alias resolved");
    assert_eq!(
        seen.body["include"][0], "reasoning.encrypted_content",
        "unknown fields kept"
    );

    let stream = concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_s\",\"status\":\"in_progress\"}}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"Hi\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_s\",\"status\":\"completed\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1,\"total_tokens\":8}}}\n\n",
    );
    oa.push(Reply::Stream {
        chunks: awkward_chunks(stream, 23),
        pause: Duration::ZERO,
    });
    let body = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gpt-5", "input": "hi", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(body, stream);
    // A stream cut before its terminal event ends with an error event.
    oa.push(Reply::Stream {
        chunks: vec![stream[..200].to_owned()],
        pause: Duration::ZERO,
    });
    let body = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gpt-5", "input": "hi", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    let (names, last) = event_names(&body);
    assert_eq!(names.last().unwrap(), "error");
    assert_eq!(last["type"], "error");

    // A graceful stop writes every queued row.
    let url = gw.store_url();
    let _dir = gw.stop().await;
    let store = tokgateway_store::Store::connect(&url).await.unwrap();
    let rows = store
        .usage_log(&tokgateway_store::LogQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .data;
    let usage: Vec<(u16, u64, u64)> = rows
        .iter()
        .rev()
        .map(|r| (r.status, r.prompt_tokens, r.completion_tokens))
        .collect();
    assert_eq!(usage, [(200, 9, 4), (200, 7, 1), (502, 0, 0)]);
    assert!(
        rows.iter()
            .all(|r| r.endpoint == "/v1/responses" && r.provider == "native")
    );
}

// ---------------------------------------------------------------------------
// Gemini: as an upstream for every client protocol, and its native endpoints

fn gemini_ini(gemini: &str, anthropic: &str) -> String {
    format!(
        "[provider.gm]\ntype = gemini\nbase_url = {gemini}\napi_key = sk-gemini-secret\n\
         [provider.an]\ntype = anthropic\nbase_url = {anthropic}\napi_key = sk-an\n\
         [routes]\ngemini-* = gm\nclaude-* = an\n"
    )
}

const GEMINI_STREAM: &str = concat!(
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Let me \"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":31},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"check.\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":33},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"San Francisco\",\"unit\":\"celsius\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,\"candidatesTokenCount\":17,\"totalTokenCount\":48},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
);

#[tokio::test]
async fn openai_and_anthropic_clients_on_a_gemini_upstream() {
    let gm = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&gemini_ini(&gm.url, &an.url), &[]).await;

    // OpenAI client, not streamed: a function call comes back as tool_calls.
    gm.push(Reply::Json(200, json!({
        "candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Oslo"}}}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17},
        "modelVersion": "gemini-2.5-flash"
    }).to_string()));
    let r = post(
        format!("{}/v1/chat/completions", gw.url),
        json!({"model": "gemini-2.5-flash", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
            "max_tokens": 50}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "gm");
    let v: Value = r.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "Oslo"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        (
            v["usage"]["prompt_tokens"].as_u64(),
            v["usage"]["completion_tokens"].as_u64()
        ),
        (Some(12), Some(5))
    );
    let seen = &gm.seen()[0];
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.headers["x-goog-api-key"], "sk-gemini-secret");
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(
        seen.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    assert_eq!(
        seen.body["contents"][0]["parts"][0]["text"],
        "Weather in Oslo?"
    );
    assert_eq!(seen.body["generationConfig"]["maxOutputTokens"], 50);
    assert_eq!(
        seen.body["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );

    // Anthropic client, streamed: the function call arrives as a tool_use
    // whose input_json_delta events rebuild the whole input.
    gm.push(Reply::Stream {
        chunks: awkward_chunks(GEMINI_STREAM, 41),
        pause: Duration::ZERO,
    });
    let body = client()
        .post(format!("{}/v1/messages", gw.url))
        .json(
            &json!({"model": "gemini-2.5-flash", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        gm.seen()[1].path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    let events = sse_events(&body);
    assert_eq!(
        events.last().unwrap().0.as_deref(),
        Some("message_stop"),
        "{body}"
    );
    let text: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["delta"]["type"] == "text_delta")
        .map(|v| v["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Let me check.");
    let input: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["delta"]["type"] == "input_json_delta")
        .map(|v| v["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"location": "San Francisco", "unit": "celsius"})
    );
    let stop = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["type"] == "message_delta")
        .unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
    assert_eq!(stop["usage"]["output_tokens"], 17);

    // A Responses client reaches Gemini too.
    gm.push(Reply::Json(200, json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    }).to_string()));
    let v: Value = post(
        format!("{}/v1/responses", gw.url),
        json!({"model": "gemini-2.5-flash", "input": "hello"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["output"][0]["content"][0]["text"], "Hi!");
    assert_eq!(v["usage"]["output_tokens"], 2);

    // Gemini's errors reach the client in its own protocol.
    gm.push(Reply::Json(400, json!({"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}).to_string()));
    let r = post(
        format!("{}/v1/chat/completions", gw.url),
        json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key not valid"),
        "{v}"
    );
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn gemini_native_endpoints_on_any_provider() {
    let gm = Mock::start().await;
    let an = Mock::start().await;
    let gw = gateway(&gemini_ini(&gm.url, &an.url), &[]).await;
    let url = |p: &str| format!("{}/v1beta/models/{p}", gw.url);

    let v: Value = post(
        url("loopback:generateContent"),
        json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "loopback: hello there"
    );
    assert_eq!(v["candidates"][0]["content"]["role"], "model");
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 3);

    // Streamed with alt=sse: GenerateContentResponse chunks.
    let r = post(
        url("loopback:streamGenerateContent?alt=sse"),
        json!({
        "contents": [{"role": "user", "parts": [{"text": "one two three"}]}]}),
    )
    .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    let chunks: Vec<Value> = sse_events(&body)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "loopback: one two three");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 4);
    // Without alt=sse: a JSON array of chunks.
    let v: Value = post(
        url("loopback:streamGenerateContent"),
        json!({
        "contents": [{"role": "user", "parts": [{"text": "a b"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v[0]["candidates"][0]["content"]["parts"][0]["text"],
        "loopback: a b"
    );

    // A Gemini client on an Anthropic upstream, with a function call and its response.
    an.push(Reply::Json(200, json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "It is sunny."}],
        "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 40, "output_tokens": 5}
    }).to_string()));
    let v: Value = post(url("claude-sonnet-4-5:generateContent"), json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Oslo?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Oslo"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "sunny"}}}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]}]}))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "It is sunny."
    );
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 40);
    let sent = &an.seen()[0].body;
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
    assert_eq!(msgs[1]["content"][0]["input"], json!({"location": "Oslo"}));
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(
        msgs[2]["content"][0]["tool_use_id"],
        msgs[1]["content"][0]["id"]
    );
    assert_eq!(sent["tools"][0]["name"], "get_weather");

    // countTokens, the model list, and errors in Google's shape.
    let v: Value = post(
        url("loopback:countTokens"),
        json!({"contents": [{"role": "user", "parts": [{"text": "count these words please"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(v["totalTokens"].as_u64().unwrap() > 0);
    let v: Value = client()
        .get(format!("{}/v1beta/models", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "models/loopback")
    );
    let r = post(
        url("no-such-model:generateContent"),
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_u64(), v["error"]["status"].as_str()),
        (Some(404), Some("NOT_FOUND"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    let r = post(url("loopback:generateContent"), json!({"contents": "nope"})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
    assert_eq!(post(url("loopback:explode"), json!({})).await.status(), 404);
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn gemini_clients_authenticate_with_their_own_headers() {
    let gw = gateway("", &["auth.enabled=true", "ledger.flush_interval=20ms"]).await;
    let store = tokgateway_store::Store::connect(&gw.store_url())
        .await
        .unwrap();
    store
        .create_user("ann", None, tokgateway_store::Role::User)
        .await
        .unwrap();
    let (_, key) = store
        .create_key(&tokgateway_store::NewKey {
            user: "ann".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let url = format!("{}/v1beta/models/loopback:generateContent", gw.url);
    let r = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["status"],
        "UNAUTHENTICATED"
    );
    let r = client()
        .post(&url)
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .post(format!("{url}?key={key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A graceful stop writes every queued row.
    let _dir = gw.stop().await;
    let rows = store
        .usage_log(&tokgateway_store::LogQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.endpoint == "/v1beta/models:generateContent"
                && r.status == 200
                && r.user.as_deref() == Some("ann"))
    );
}

#[tokio::test]
async fn stored_responses_belong_to_the_key_that_made_them() {
    let gw = gateway("", &["auth.enabled=true", "ledger.flush_interval=20ms"]).await;
    let store = tokgateway_store::Store::connect(&gw.store_url())
        .await
        .unwrap();
    let mut keys = Vec::new();
    for user in ["ann", "bob"] {
        store
            .create_user(user, None, tokgateway_store::Role::User)
            .await
            .unwrap();
        let (_, k) = store
            .create_key(&tokgateway_store::NewKey {
                user: user.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        keys.push(k);
    }
    let (ann, bob) = (&keys[0], &keys[1]);
    let c = client();
    let create = |key: &str, body: Value| {
        c.post(format!("{}/v1/responses", gw.url))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let r = create(ann, json!({"model": "loopback", "input": "secret plans"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/v1/responses/{id}", gw.url);

    // To another key the response does not exist: not readable, not
    // continuable, not deletable.
    assert_eq!(
        c.get(&url).bearer_auth(bob).send().await.unwrap().status(),
        404
    );
    let r = create(
        bob,
        json!({"model": "loopback", "input": "x", "previous_response_id": id}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["param"],
        "previous_response_id"
    );
    assert_eq!(
        c.delete(&url)
            .bearer_auth(bob)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    // Its owner still has it.
    let got: Value = c
        .get(&url)
        .bearer_auth(ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got["output"][0]["content"][0]["text"],
        "loopback: secret plans"
    );
    assert_eq!(
        c.delete(&url)
            .bearer_auth(ann)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The new endpoints show in the metrics like the others (counted off the
    // request path, so a few milliseconds later).
    let shows = |m: &str| {
        m.lines().any(|l| {
            l.starts_with("tokgateway_requests_total") && l.contains("route=\"/v1/responses\"")
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut m = String::new();
    while std::time::Instant::now() < deadline {
        m = c
            .get(format!("{}/metrics", gw.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if shows(&m) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(shows(&m), "{m}");
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn rate_limits_cover_responses_and_gemini_endpoints() {
    let gw = gateway("", &["auth.enabled=true"]).await;
    let store = tokgateway_store::Store::connect(&gw.store_url())
        .await
        .unwrap();
    store
        .create_user("ann", None, tokgateway_store::Role::User)
        .await
        .unwrap();
    let (_, key) = store
        .create_key(&tokgateway_store::NewKey {
            user: "ann".into(),
            rpm: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = client();
    let responses = || {
        c.post(format!("{}/v1/responses", gw.url))
            .bearer_auth(&key)
            .json(&json!({"model": "loopback", "input": "x"}))
            .send()
    };
    let gemini = || {
        c.post(format!("{}/v1beta/models/loopback:generateContent", gw.url))
            .header("x-goog-api-key", &key)
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
            .send()
    };
    assert_eq!(responses().await.unwrap().status(), 200);
    assert_eq!(gemini().await.unwrap().status(), 200);
    // The third request in the minute is over the key's rpm on either endpoint.
    let r = responses().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );
    let r = gemini().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["status"],
        "RESOURCE_EXHAUSTED"
    );
    let _dir = gw.stop().await;
}
