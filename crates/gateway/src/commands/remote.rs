//! Commands that talk to a running gatewayd: `status` and `chat`.

use std::io::Write;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::cli::Cli;
use crate::{Failure, output};

/// The daemon's base URL: `--url`, `TOKGATEWAY_URL`, else `server.listen`
/// (an unspecified address means this machine).
fn base_url(cli: &Cli, url: Option<&str>) -> Result<String, Failure> {
    if let Some(u) = url.map(str::to_owned).or_else(|| {
        std::env::var("TOKGATEWAY_URL")
            .ok()
            .filter(|s| !s.is_empty())
    }) {
        return Ok(u.trim_end_matches('/').to_owned());
    }
    let settings = cli.config.load()?.settings()?;
    let mut addr = settings.server.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if settings.server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{addr}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}

fn client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| Failure::runtime(format!("cannot build the HTTP client: {e}")))
}

fn unreachable(base: &str, e: &reqwest::Error) -> Failure {
    let mut msg = format!("cannot reach gatewayd at {base}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    Failure::runtime(msg)
}

pub fn status(cli: &Cli, url: Option<&str>) -> Result<(), Failure> {
    let base = base_url(cli, url)?;
    let rt = runtime()?;
    let c = client()?;
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        let req = c.get(&url);
        async move {
            let r = req.send().await.map_err(|e| unreachable(&url, &e))?;
            let status = r.status();
            r.json::<Value>().await.map_err(|e| {
                Failure::runtime(format!("{url} answered HTTP {status} without JSON: {e}"))
            })
        }
    };
    let (health, resource) = rt.block_on(async {
        Ok::<_, Failure>((get("/health").await?, get("/metrics/resource").await?))
    })?;
    let report = json!({
        "status": health["status"],
        "version": health["version"],
        "uptime_seconds": resource["uptime_seconds"],
        "resource": resource,
    });
    if cli.json {
        output::json(&report);
        return Ok(());
    }
    let mib = |v: &Value| {
        v.as_u64().map_or_else(
            || "?".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / 1048576.0),
        )
    };
    let mut text = format!(
        "gatewayd {} at {base}: {}\n  uptime:  {}s\n  cpu:     {}% ({}s of CPU time)\n  memory:  {} of {} ({}%){}\n",
        health["version"].as_str().unwrap_or("?"),
        health["status"].as_str().unwrap_or("?"),
        resource["uptime_seconds"],
        resource["cpu_percent"],
        resource["cpu_time_seconds"],
        mib(&resource["memory_bytes"]),
        mib(&resource["memory_limit_bytes"]),
        resource["memory_percent"],
        if resource["memory_limit_exceeded"] == true {
            "  LIMIT EXCEEDED"
        } else {
            ""
        },
    );
    let p = &resource["platform"];
    text.push_str(&format!(
        "  platform: {} {} ({}){}\n",
        p["os"].as_str().unwrap_or("?"),
        p["arch"].as_str().unwrap_or("?"),
        p["os_version"].as_str().unwrap_or("?"),
        if p["in_container"] == true {
            ", in a container"
        } else {
            ""
        }
    ));
    for g in resource["gpus"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "  gpu {}: {} {}% busy\n",
            g["index"],
            g["name"].as_str().unwrap_or("?"),
            g["utilization_percent"]
        ));
    }
    output::data(&text);
    Ok(())
}

pub fn chat(
    cli: &Cli,
    url: Option<&str>,
    model: &str,
    key: Option<&str>,
    prompt: &str,
) -> Result<(), Failure> {
    let base = base_url(cli, url)?;
    let key = key.map(str::to_owned).or_else(|| {
        std::env::var("TOKGATEWAY_API_KEY")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let rt = runtime()?;
    rt.block_on(async {
        let mut req = client()?
            .post(format!("{base}/v1/chat/completions"))
            .json(&json!({
                "model": model,
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": prompt}],
            }));
        if let Some(k) = &key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| unreachable(&base, &e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or_default();
            let msg = body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no details");
            return Err(Failure::runtime(format!(
                "gatewayd answered HTTP {}: {msg}",
                status.as_u16()
            )));
        }
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let provider = resp
            .headers()
            .get("x-gateway-provider")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut stream = resp.bytes_stream();
        // The shared SSE decoder copes with any chunking, CRLF and characters
        // split across chunks.
        let mut decoder = tokgateway_protocol::sse::Decoder::default();
        let mut usage = Value::Null;
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| Failure::runtime(format!("the stream broke off: {e}")))?;
            for event in decoder.feed(&chunk) {
                if event.data == "[DONE]" {
                    continue;
                }
                let v: Value = serde_json::from_str(&event.data).unwrap_or_default();
                if let Some(err) = v.pointer("/error/message").and_then(Value::as_str) {
                    return Err(Failure::runtime(format!("the stream failed: {err}")));
                }
                if let Some(t) = v
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                {
                    let _ = out.write_all(t.as_bytes());
                    let _ = out.flush();
                }
                if v.get("usage").is_some_and(|u| !u.is_null()) {
                    usage = v["usage"].clone();
                }
            }
        }
        let _ = out.write_all(b"\n");
        output::info(
            cli.quiet,
            &format!(
                "[{request_id} via {provider}: {} prompt + {} completion tokens]",
                usage["prompt_tokens"], usage["completion_tokens"]
            ),
        );
        Ok(())
    })
}
