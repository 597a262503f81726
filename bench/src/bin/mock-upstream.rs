//! A fast mock OpenAI upstream for benchmarks: `POST /v1/chat/completions`
//! answers a fixed completion, or an SSE stream of `--chunks N` chunks when
//! the body asks for `"stream":true`. With `--null-usage` every chunk before
//! the usage chunk carries `"usage":null`, as OpenAI's do when a stream asks
//! for usage. Prints `listening on ADDR`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-bench","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}"#;

fn stream_body(chunks: usize, null_usage: bool) -> Bytes {
    let usage = if null_usage { ",\"usage\":null" } else { "" };
    let mut s = String::new();
    for i in 0..chunks {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-bench\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}},\"finish_reason\":null}}]{usage}}}\n\n"
        ));
    }
    s.push_str(&format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-bench\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]{usage}}}\n\n"));
    s.push_str("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":10,\"total_tokens\":22}}\n\ndata: [DONE]\n\n");
    Bytes::from(s)
}

fn main() -> std::io::Result<()> {
    let chunks: usize = tokgateway_bench::flag("--chunks")
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let stream = stream_body(chunks, std::env::args().any(|a| a == "--null-usage"));
    tokgateway_bench::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(tokgateway_bench::listen_addr()).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            let stream = stream.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let stream = stream.clone();
                    async move {
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let streaming = body.windows(13).any(|w| w == b"\"stream\":true");
                        let resp = if streaming {
                            Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(Full::new(stream))
                        } else {
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(COMPLETION.as_bytes())))
                        };
                        Ok::<_, Infallible>(resp.unwrap_or_default())
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    })
}
