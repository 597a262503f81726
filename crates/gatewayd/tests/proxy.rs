//! The proxy end to end: gatewayd in-process, real HTTP, mock upstreams.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Mock, Reply, awkward_chunks, client, gateway, sse_events};
use serde_json::{Value, json};

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
    "data: [DONE]\n\n",
);

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn openai_ok(content: &str) -> String {
    json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    })
    .to_string()
}

fn openai_ini(url: &str) -> String {
    format!(
        "[provider.up]\ntype = openai\nbase_url = {url}/v1\napi_key = sk-upstream\nmodels = gpt-4o\n[aliases]\nfast = gpt-4o\n"
    )
}

/// The metrics page once it shows `needle` (records are counted off the
/// request path, a few milliseconds after the response), or after 5 s.
async fn metrics_showing(url: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = metrics_text(url).await;
        if m.contains(needle) || std::time::Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metrics_text(url: &str) -> String {
    client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn loopback_both_protocols_stream_and_not() {
    let gw = gateway("", &[]).await;
    let c = client();
    let r = c
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "ping pong"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "loopback");
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "loopback: ping pong");
    assert_eq!(v["usage"]["completion_tokens"], 3);

    // OpenAI stream with include_usage.
    let body = c
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(
            &json!({"model": "loopback", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "a b c"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "loopback: a b c");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 4);
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));

    // Anthropic, both routes, max_tokens cut.
    for path in ["/v1/messages", "/anthropic/v1/messages"] {
        let v: Value = c
            .post(format!("{}{path}", gw.url))
            .json(&json!({"model": "loopback", "max_tokens": 2, "messages": [{"role": "user", "content": "one two three"}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["content"][0]["text"], "loopback: one");
        assert_eq!(v["stop_reason"], "max_tokens");
    }
    let body = c
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "loopback", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "x y"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<String> = sse_events(&body)
        .into_iter()
        .filter_map(|(e, _)| e)
        .collect();
    assert_eq!(names.first().unwrap(), "message_start");
    assert_eq!(names.last().unwrap(), "message_stop");
    assert!(names.contains(&"message_delta".to_owned()));
    gw.stop().await;
}

#[tokio::test]
async fn openai_passthrough_preserves_body_and_swaps_credentials() {
    let up = Mock::start().await;
    up.always(Reply::Json(200, openai_ok("hi")));
    let gw = gateway(&openai_ini(&up.url), &[]).await;
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("client-key")
        .header("x-request-id", "my-req-1")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "logit_bias": {"1": 2}, "some_future_field": [1, 2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "up");
    assert_eq!(r.headers()["x-request-id"], "my-req-1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hi");
    let seen = up.seen();
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].headers["authorization"], "Bearer sk-upstream");
    assert_eq!(
        seen[0].body["some_future_field"],
        json!([1, 2]),
        "unknown fields pass through"
    );
    assert_eq!(seen[0].body["logit_bias"], json!({"1": 2}));

    // An alias is rewritten to the upstream model name, other fields kept.
    client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "fast", "messages": [], "some_future_field": true}))
        .send()
        .await
        .unwrap();
    let seen = up.seen();
    assert_eq!(seen[1].body["model"], "gpt-4o");
    assert_eq!(seen[1].body["some_future_field"], true);

    let m = metrics_text(&gw.url).await;
    assert!(m.contains("tokgateway_requests_total"), "{m}");
    gw.stop().await;
}

#[tokio::test]
async fn openai_stream_passthrough_any_chunking_and_usage() {
    let up = Mock::start().await;
    let gw = gateway(
        &format!("{}[routes]\nusage-probe = up\n", openai_ini(&up.url)),
        &[],
    )
    .await;
    for size in [7, 64, 1000] {
        // The client did not ask for usage: gatewayd asks upstream for it (to
        // account tokens) and strips the usage-only chunk from what the client gets.
        up.push(Reply::Stream {
            chunks: awkward_chunks(OPENAI_STREAM, size),
            pause: Duration::ZERO,
        });
        let body = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let events = sse_events(&body);
        assert_eq!(events.len(), 5, "size {size}: {body}");
        assert_eq!(events.last().unwrap().1, "[DONE]");
        assert!(
            !body.contains("\"prompt_tokens\""),
            "usage chunk stripped: {body}"
        );
        let text: String = events
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(text, "Hello world");
        assert_eq!(
            up.seen().last().unwrap().body["stream_options"]["include_usage"],
            true
        );
    }
    // When the client asks, it gets the usage chunk.
    up.push(Reply::Stream {
        chunks: awkward_chunks(OPENAI_STREAM, 13),
        pause: Duration::ZERO,
    });
    let body = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "usage-probe", "stream": true, "stream_options": {"include_usage": true}, "messages": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"prompt_tokens\":9"), "{body}");
    assert_eq!(
        body, OPENAI_STREAM,
        "same protocol: the upstream's bytes as they are"
    );
    // Metrics are per process and tests share it: this model is used only here.
    let want = "tokgateway_tokens_total{kind=\"completion\",model=\"usage-probe\"} 2";
    let m = metrics_showing(&gw.url, want).await;
    assert!(m.contains(want), "{m}");
    gw.stop().await;
}

#[tokio::test]
async fn anthropic_passthrough_stream_and_headers() {
    let up = Mock::start().await;
    let ini = format!(
        "[provider.claude]\ntype = anthropic\nbase_url = {}/\napi_key = sk-ant\n[routes]\nclaude-* = claude\n",
        up.url
    );
    let gw = gateway(&ini, &[]).await;
    up.push(Reply::Stream {
        chunks: awkward_chunks(ANTHROPIC_STREAM, 11),
        pause: Duration::ZERO,
    });
    let r = client()
        .post(format!("{}/anthropic/v1/messages", gw.url))
        .header("x-api-key", "client-key")
        .header("anthropic-beta", "tools-2024")
        .json(&json!({"model": "claude-x", "max_tokens": 20, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let body = r.text().await.unwrap();
    assert_eq!(
        body, ANTHROPIC_STREAM,
        "same protocol: the upstream's bytes as they are"
    );
    let events = sse_events(&body);
    assert_eq!(events.len(), 7);
    assert_eq!(events[0].0.as_deref(), Some("message_start"));
    assert_eq!(events[6].0.as_deref(), Some("message_stop"));
    let seen = &up.seen()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-ant");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert_eq!(seen.headers["anthropic-beta"], "tools-2024");
    assert_eq!(
        seen.headers["host"],
        up.url.trim_start_matches("http://"),
        "the upstream's own host and port, not the gateway's"
    );
    let m = metrics_showing(
        &gw.url,
        "tokgateway_tokens_total{kind=\"completion\",model=\"claude-x\"}",
    )
    .await;
    assert!(
        m.contains("tokgateway_tokens_total{kind=\"prompt\",model=\"claude-x\"} 25"),
        "{m}"
    );
    assert!(
        m.contains("tokgateway_tokens_total{kind=\"completion\",model=\"claude-x\"} 15"),
        "{m}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn fallback_and_upstream_error_mapping() {
    let a = Mock::start().await;
    let b = Mock::start().await;
    let ini = format!(
        "[provider.a]\ntype = openai\nbase_url = {}/v1\nmax_retries = 0\n[provider.b]\ntype = openai\nbase_url = {}/v1\nmax_retries = 1\n[routes]\ngpt-* = a, b\n",
        a.url, b.url
    );
    let gw = gateway(&ini, &[]).await;
    let post = |body: Value| {
        let url = format!("{}/v1/chat/completions", gw.url);
        async move { client().post(url).json(&body).send().await.unwrap() }
    };
    let req = json!({"model": "gpt-4o", "messages": []});

    // 500 from a → b serves.
    a.push(Reply::Json(500, r#"{"error":{"message":"boom"}}"#.into()));
    b.push(Reply::Json(200, openai_ok("from b")));
    let r = post(req.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "b");

    // 429 everywhere → 429 with the last upstream's Retry-After; b retried once.
    a.push(Reply::RetryAfter(
        429,
        r#"{"error":{"message":"slow down a"}}"#.into(),
        "3".into(),
    ));
    b.push(Reply::RetryAfter(
        429,
        r#"{"error":{"message":"slow down b"}}"#.into(),
        "7".into(),
    ));
    b.push(Reply::RetryAfter(
        429,
        r#"{"error":{"message":"slow down b"}}"#.into(),
        "7".into(),
    ));
    let hits_b = b.hits();
    let r = post(req.clone()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(b.hits() - hits_b, 2, "max_retries = 1 means two attempts");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["message"], "slow down b");

    // 5xx everywhere → 502 with the upstream's message.
    a.push(Reply::Json(503, r#"{"error":{"message":"a down"}}"#.into()));
    b.push(Reply::Json(500, r#"{"error":{"message":"b down"}}"#.into()));
    b.push(Reply::Json(500, r#"{"error":{"message":"b down"}}"#.into()));
    let r = post(req.clone()).await;
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "b down"
    );

    // A client error is final: no fallback, the upstream's status and message.
    a.push(Reply::Json(
        400,
        r#"{"error":{"message":"bad messages"}}"#.into(),
    ));
    let hits_b = b.hits();
    let r = post(req.clone()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "bad messages"
    );
    assert_eq!(b.hits(), hits_b);
    gw.stop().await;
}

#[tokio::test]
async fn unreachable_and_slow_upstreams() {
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let slow = Mock::start().await;
    slow.always(Reply::Slow(Duration::from_secs(3), openai_ok("late")));
    let ini = format!(
        "[provider.dead]\ntype = openai\nbase_url = http://127.0.0.1:{dead_port}/v1\nmax_retries = 0\nmodels = dead-model\n\
         [provider.slow]\ntype = openai\nbase_url = {}/v1\ntimeout = 200ms\nmax_retries = 0\nmodels = slow-model\n",
        slow.url
    );
    let gw = gateway(&ini, &[]).await;
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "dead-model", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{v}"
    );
    let r = client()
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "slow-model", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    // An OpenAI-type provider serving an Anthropic client needs translation.
    assert!(r.status() == 400 || r.status() == 504);
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "slow-model", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["type"], "timeout");
    gw.stop().await;
}

#[tokio::test]
async fn client_errors_in_each_protocol() {
    let gw = gateway("", &["server.max_body_bytes=1KiB"]).await;
    let c = client();
    let send = |path: &'static str, body: String| {
        let url = format!("{}{path}", gw.url);
        let c = c.clone();
        async move {
            let r = c
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = send("/v1/chat/completions", "{not json".into()).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{v}"
    );
    let (s, v) = send("/v1/messages", "{not json".into()).await;
    assert_eq!(s, 400);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (s, v) = send("/v1/chat/completions", r#"{"messages":[]}"#.into()).await;
    assert_eq!((s, v["error"]["param"].as_str()), (400, Some("model")));
    let (s, v) = send(
        "/v1/chat/completions",
        r#"{"model":"gpt-nothing","messages":[]}"#.into(),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    let (s, v) = send(
        "/anthropic/v1/messages",
        r#"{"model":"nothing","messages":[]}"#.into(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("not_found_error"))
    );
    let big = format!(
        r#"{{"model":"loopback","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(2000)
    );
    let (s, v) = send("/v1/chat/completions", big.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    let (s, v) = send("/v1/messages", big).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (413, Some("request_too_large"))
    );
    let (s, _) = send("/v1/nope", "{}".into()).await;
    assert_eq!(s, 404);
    // Chat routes take POST only; other methods are refused, not proxied.
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/anthropic/v1/messages",
    ] {
        let r = client()
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "GET {path}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn stream_cut_ends_with_an_error_event() {
    let up = Mock::start().await;
    let gw = gateway(&openai_ini(&up.url), &[]).await;
    let cut: String = OPENAI_STREAM
        .split("\n\n")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n\n")
        + "\n\n";
    up.push(Reply::Stream {
        chunks: vec![cut],
        pause: Duration::ZERO,
    });
    let body = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    let err: Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(err["error"]["type"], "api_error", "{body}");
    assert_eq!(events.last().unwrap().1, "[DONE]");
    gw.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream() {
    let up = Mock::start().await;
    let gw = gateway(&openai_ini(&up.url), &[]).await;
    let chunks: Vec<String> = (0..50)
        .map(|i| {
            format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{i}\"}}}}]}}\n\n")
        })
        .collect();
    up.push(Reply::Stream {
        chunks,
        pause: Duration::from_millis(100),
    });
    let mut r = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    let first = r.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(r);
    let flag = up.state.stream_dropped.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upstream stream was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The request is still accounted for (status 499).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        if metrics_text(&gw.url).await.contains("status=\"499\"") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no 499 record");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn shedding_and_concurrency_cap() {
    let gw = gateway("", &["limits.max_memory=1MiB"]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = client()
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "loopback", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "overloaded_error"
    );
    let ready = client()
        .get(format!("{}/ready", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let health = client()
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "liveness is not shed");
    gw.stop().await;

    let up = Mock::start().await;
    up.always(Reply::Slow(Duration::from_millis(500), openai_ok("slow")));
    let gw = gateway(&openai_ini(&up.url), &["limits.max_concurrent_requests=1"]).await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let first = tokio::spawn({
        let url = url.clone();
        async move {
            client()
                .post(url)
                .json(&json!({"model": "gpt-4o", "messages": []}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = client()
        .post(&url)
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(first.await.unwrap(), 200);
    gw.stop().await;
}

#[tokio::test]
async fn work_mode_is_enforced() {
    let up = Mock::start().await;
    up.always(Reply::Json(200, openai_ok("ok")));
    let gw = gateway(&openai_ini(&up.url), &["routing.work_mode=passthrough"]).await;
    let r = client()
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "gpt-4o", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("passthrough"),
        "{v}"
    );
    gw.stop().await;
    let gw = gateway(&openai_ini(&up.url), &["routing.work_mode=translation"]).await;
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    gw.stop().await;
}

#[tokio::test]
async fn models_health_ready_count_tokens_embeddings() {
    let up = Mock::start().await;
    up.always(Reply::Json(
        200,
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}]}"#.into(),
    ));
    let gw = gateway(&openai_ini(&up.url), &[]).await;
    let c = client();
    let v: Value = c
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"fast") && ids.contains(&"gpt-4o") && ids.contains(&"loopback"),
        "{ids:?}"
    );
    let v: Value = c
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(
        c.get(format!("{}/ready", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let v: Value = c
        .post(format!("{}/v1/messages/count_tokens", gw.url))
        .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "12345678"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["input_tokens"], 2);
    let r = c
        .post(format!("{}/v1/embeddings", gw.url))
        .json(&json!({"model": "gpt-4o", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.seen().last().unwrap().path, "/v1/embeddings");
    // Embeddings are accounted like chat requests.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !metrics_text(&gw.url)
        .await
        .contains("route=\"/v1/embeddings\"")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no record for the embeddings request"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v: Value = c
        .get(format!("{}/metrics/resource", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in [
        "cpu_percent",
        "cpu_time_seconds",
        "memory_bytes",
        "memory_percent",
        "memory_limit_bytes",
        "memory_limit_exceeded",
        "uptime_seconds",
        "gpu_available",
        "gpus",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    assert!(v["platform"]["os"].is_string() && v["platform"]["in_container"].is_boolean());
    let m = c.get(format!("{}/metrics", gw.url)).send().await.unwrap();
    assert!(
        m.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    gw.stop().await;
}

#[tokio::test]
async fn graceful_stop_drains_a_running_stream() {
    let up = Mock::start().await;
    let gw = gateway(&openai_ini(&up.url), &[]).await;
    let chunks = awkward_chunks(OPENAI_STREAM, 40);
    up.push(Reply::Stream {
        chunks,
        pause: Duration::from_millis(40),
    });
    let url = format!("{}/v1/chat/completions", gw.url);
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .json(&json!({"model": "gpt-4o", "stream": true, "messages": []}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    gw.stop().await;
    let body = pending.await.unwrap();
    assert!(
        body.ends_with("data: [DONE]\n\n"),
        "stream finished during shutdown: {body}"
    );
}

#[tokio::test]
async fn loopback_chunk_delay_paces_the_stream() {
    let gw = gateway(
        "[provider.slow]\ntype = loopback\nmodels = slow\nchunk_delay = 100ms\n",
        &[],
    )
    .await;
    let started = std::time::Instant::now();
    let body = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "slow", "stream": true, "messages": [{"role": "user", "content": "a b"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // role chunk, 3 word chunks, finish chunk, [DONE]: five pauses at least.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(body.ends_with("data: [DONE]\n\n"));
    gw.stop().await;
}
