//! Prometheus metrics (`GET /metrics`). Per-request metrics are recorded by
//! the accounting consumer, off the request path.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::accounting::UsageRecord;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Requests being served right now.
pub static IN_FLIGHT: AtomicI64 = AtomicI64::new(0);

/// Installs the process-wide recorder once and returns its handle.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            const LATENCY: &[f64] = &[
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                120.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        "tokgateway_requests_total",
        "Proxied requests by route, provider and status."
    );
    metrics::describe_histogram!(
        "tokgateway_request_duration_seconds",
        "End-to-end latency of proxied requests."
    );
    metrics::describe_histogram!(
        "tokgateway_time_to_first_byte_seconds",
        "Time to the first byte sent to the client."
    );
    metrics::describe_counter!(
        "tokgateway_tokens_total",
        "Tokens by kind (prompt, completion) and model."
    );
    metrics::describe_counter!(
        "tokgateway_upstream_errors_total",
        "Upstream failures by provider and kind."
    );
    metrics::describe_gauge!("tokgateway_in_flight_requests", "Requests being served.");
    metrics::describe_gauge!(
        "tokgateway_ledger_queue",
        "Usage records waiting to be written."
    );
}

/// Records one finished request.
pub fn record(r: &UsageRecord) {
    if handle().is_none() {
        return;
    }
    let status = r.status.to_string();
    metrics::counter!("tokgateway_requests_total", "route" => r.endpoint, "provider" => r.provider.clone(), "status" => status).increment(1);
    #[allow(clippy::cast_precision_loss)]
    {
        metrics::histogram!("tokgateway_request_duration_seconds", "route" => r.endpoint)
            .record(r.latency_ms as f64 / 1000.0);
        if let Some(t) = r.ttfb_ms {
            metrics::histogram!("tokgateway_time_to_first_byte_seconds", "route" => r.endpoint)
                .record(t as f64 / 1000.0);
        }
    }
    if r.prompt_tokens > 0 {
        metrics::counter!("tokgateway_tokens_total", "kind" => "prompt", "model" => r.requested_model.clone()).increment(r.prompt_tokens);
    }
    if r.completion_tokens > 0 {
        metrics::counter!("tokgateway_tokens_total", "kind" => "completion", "model" => r.requested_model.clone()).increment(r.completion_tokens);
    }
}

/// Counts an upstream failure.
pub fn upstream_error(provider: &str, kind: &'static str) {
    if handle().is_some() {
        metrics::counter!("tokgateway_upstream_errors_total", "provider" => provider.to_owned(), "kind" => kind).increment(1);
    }
}

/// The Prometheus text page.
pub fn render(ledger_queue: usize) -> String {
    let Some(h) = handle() else {
        return String::new();
    };
    #[allow(clippy::cast_precision_loss)]
    {
        metrics::gauge!("tokgateway_in_flight_requests")
            .set(IN_FLIGHT.load(Ordering::Relaxed) as f64);
        metrics::gauge!("tokgateway_ledger_queue").set(ledger_queue as f64);
    }
    h.render()
}
