//! Prometheus metrics (`GET /metrics`). Per-request metrics are recorded by
//! the accounting consumer, off the request path.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::accounting::UsageRecord;

/// The handles' maps hash with foldhash (seeded per process, as std's
/// SipHash is, at a fraction of its cost; the maps are bounded by
/// [`MAX_CACHED`]): four lookups per request.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

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

/// Distinct label sets kept by [`RequestMetrics`] before it starts afresh
/// (models and providers come from requests; the cache must stay bounded).
const MAX_CACHED: usize = 4096;

/// The per-request metric handles, kept by the accounting consumer: a record
/// then costs a few atomic operations instead of building labels and looking
/// them up in the registry.
#[derive(Default)]
pub struct RequestMetrics {
    /// By route and status, then provider.
    requests: HashMap<(&'static str, u16), HashMap<String, Counter>>,
    /// By route: duration and time to first byte.
    latency: HashMap<&'static str, (Histogram, Histogram)>,
    /// By requested model: prompt and completion tokens.
    tokens: HashMap<String, (Counter, Counter)>,
    cached: usize,
}

impl RequestMetrics {
    /// Records one finished request.
    pub fn record(&mut self, r: &UsageRecord) {
        if handle().is_none() {
            return;
        }
        if self.cached > MAX_CACHED {
            *self = Self::default();
        }
        let by_provider = self.requests.entry((r.endpoint, r.status)).or_default();
        if let Some(c) = by_provider.get(r.provider.as_str()) {
            c.increment(1);
        } else {
            let c = metrics::counter!("tokgateway_requests_total", "route" => r.endpoint, "provider" => r.provider.clone(), "status" => r.status.to_string());
            c.increment(1);
            by_provider.insert(r.provider.clone(), c);
            self.cached += 1;
        }
        let (duration, ttfb) = self.latency.entry(r.endpoint).or_insert_with(|| {
            (
                metrics::histogram!("tokgateway_request_duration_seconds", "route" => r.endpoint),
                metrics::histogram!("tokgateway_time_to_first_byte_seconds", "route" => r.endpoint),
            )
        });
        #[allow(clippy::cast_precision_loss)]
        {
            duration.record(r.latency_ms as f64 / 1000.0);
            if let Some(t) = r.ttfb_ms {
                ttfb.record(t as f64 / 1000.0);
            }
        }
        if r.prompt_tokens == 0 && r.completion_tokens == 0 {
            return;
        }
        let (prompt, completion) = match self.tokens.get(r.requested_model.as_str()) {
            Some(t) => t,
            None => {
                self.cached += 1;
                let model = r.requested_model.clone();
                self.tokens.entry(model.clone()).or_insert_with(|| {
                    (
                        metrics::counter!("tokgateway_tokens_total", "kind" => "prompt", "model" => model.clone()),
                        metrics::counter!("tokgateway_tokens_total", "kind" => "completion", "model" => model),
                    )
                })
            }
        };
        prompt.increment(r.prompt_tokens);
        completion.increment(r.completion_tokens);
    }
}

/// Folds the histogram samples recorded since the last call into their
/// buckets, so memory stays flat between scrapes (run every few seconds).
pub fn upkeep() {
    if let Some(h) = handle() {
        h.run_upkeep();
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
