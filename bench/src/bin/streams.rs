//! A streaming load generator: `--conns N` clients each send `--requests M`
//! POSTs of `--body JSON` to `--url URL` back to back and read the SSE body
//! to the end, recording time to first byte and total time. Prints one line:
//! `requests=… errors=… ttfb_p50_ms=… ttfb_p99_ms=… total_p50_ms=… total_p99_ms=…`.
//! `--bearer KEY` sends `Authorization: Bearer KEY` with every request.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = (((sorted.len() - 1) as f64) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() -> std::io::Result<()> {
    let url = tokgateway_bench::flag("--url")
        .unwrap_or_else(|| "http://127.0.0.1:8081/v1/chat/completions".to_owned());
    let body = Bytes::from(tokgateway_bench::flag("--body").unwrap_or_default());
    let conns: usize = tokgateway_bench::flag("--conns")
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let requests: usize = tokgateway_bench::flag("--requests")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    // `--rate R`: each client starts a request every 1/R s (open loop, below
    // saturation) instead of back to back; 0 (the default) is back to back.
    let rate: f64 = tokgateway_bench::flag("--rate")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let gap = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    let bearer = tokgateway_bench::flag("--bearer").map(|k| format!("Bearer {k}"));
    tokgateway_bench::runtime()?.block_on(async move {
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(conns).build_http::<Full<Bytes>>();
        let mut tasks = Vec::with_capacity(conns);
        let start_all = Instant::now();
        for i in 0..conns {
            let (client, url, body, bearer) =
                (client.clone(), url.clone(), body.clone(), bearer.clone());
            tasks.push(tokio::spawn(async move {
                let mut samples = Vec::with_capacity(requests);
                let mut errors = 0usize;
                // Paced clients start evenly spread over one gap (client i at
                // i/conns of it), so their requests do not arrive in bursts.
                #[allow(clippy::cast_precision_loss)]
                let offset = gap.map_or(Duration::ZERO, |g| g.mul_f64(i as f64 / conns as f64));
                let mut next = start_all + offset;
                for _ in 0..requests {
                    if let Some(g) = gap {
                        tokio::time::sleep_until(next.into()).await;
                        next += g;
                    }
                    let mut req = Request::post(url.as_str()).header("content-type", "application/json");
                    if let Some(b) = &bearer {
                        req = req.header("authorization", b.as_str());
                    }
                    let req = req
                        .body(Full::new(body.clone()))
                        .unwrap_or_default();
                    let start = Instant::now();
                    let Ok(resp) = client.request(req).await else {
                        errors += 1;
                        continue;
                    };
                    if !resp.status().is_success() {
                        errors += 1;
                    }
                    let mut b = resp.into_body();
                    let mut ttfb = None;
                    let mut failed = false;
                    while let Some(frame) = b.frame().await {
                        match frame {
                            Ok(f) if f.data_ref().is_some_and(|d| !d.is_empty()) => {
                                ttfb.get_or_insert_with(|| start.elapsed());
                            }
                            Ok(_) => {}
                            Err(_) => {
                                failed = true;
                                break;
                            }
                        }
                    }
                    if failed {
                        errors += 1;
                    } else {
                        samples.push((ttfb.unwrap_or_else(|| start.elapsed()), start.elapsed()));
                    }
                }
                (samples, errors)
            }));
        }
        let mut ttfb = Vec::new();
        let mut total = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((s, e)) = t.await {
                errors += e;
                for (a, b) in s {
                    ttfb.push(a);
                    total.push(b);
                }
            }
        }
        ttfb.sort_unstable();
        total.sort_unstable();
        println!(
            "requests={} errors={errors} ttfb_p50_ms={:.2} ttfb_p99_ms={:.2} total_p50_ms={:.2} total_p99_ms={:.2}",
            ttfb.len(),
            pct(&ttfb, 0.5),
            pct(&ttfb, 0.99),
            pct(&total, 0.5),
            pct(&total, 0.99)
        );
        Ok(())
    })
}
