//! Request accounting: every proxied request produces exactly one
//! [`UsageRecord`], handed to a sink off the request path. A [`RecordGuard`]
//! travels with the request (and with its response stream), so a record is
//! emitted however the request ends — completion, error, or a client that
//! hangs up mid-stream.
//!
//! The sink's consumer logs one line per request and updates the metrics;
//! the usage ledger stores the records.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

/// One request's accounting.
#[derive(Debug)]
pub struct UsageRecord {
    pub time: SystemTime,
    pub request_id: crate::app::RequestId,
    pub endpoint: &'static str,
    pub user: Option<String>,
    pub key_id: Option<String>,
    /// The key's own tokens-per-minute limit.
    pub tpm: Option<u64>,
    pub requested_model: String,
    pub upstream_model: String,
    pub provider: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub status: u16,
    pub error_type: Option<&'static str>,
    pub streamed: bool,
    /// Told when the row is committed (`ledger.durability = sync`).
    pub committed: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Where records go. Cloning is cheap.
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::UnboundedSender<UsageRecord>,
    /// `ledger.durability = sync`: successful responses wait for their row's commit.
    sync: bool,
}

impl Sink {
    /// A sink and the receiving end its consumer drains.
    pub fn new(sync: bool) -> (Self, mpsc::UnboundedReceiver<UsageRecord>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx, sync }, rx)
    }

    fn send(&self, record: UsageRecord) {
        // The receiver lives until every sender is gone (drained at shutdown),
        // so this only fails during process teardown.
        if let Err(e) = self.tx.send(record) {
            tracing::error!(request_id = %e.0.request_id, "usage record could not be queued: accounting stopped");
        }
    }
}

/// Builds a request's record and emits it exactly once, on [`RecordGuard::finish`]
/// or when dropped (a client that went away is recorded with status 499).
pub struct RecordGuard {
    sink: Sink,
    started: Instant,
    record: Option<UsageRecord>,
    first_byte: Option<Duration>,
    prices: Option<(f64, f64)>,
    // Held until the request is accounted for (concurrency cap).
    _permit: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
}

impl RecordGuard {
    pub fn new(
        sink: Sink,
        request_id: crate::app::RequestId,
        endpoint: &'static str,
        requested_model: &str,
        started: Instant,
        permit: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
    ) -> Self {
        Self {
            sink,
            started,
            record: Some(UsageRecord {
                time: SystemTime::now(),
                request_id,
                endpoint,
                user: None,
                key_id: None,
                tpm: None,
                requested_model: requested_model.to_owned(),
                upstream_model: String::new(),
                provider: String::new(),
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_usd: 0.0,
                latency_ms: 0,
                ttfb_ms: None,
                status: 499,
                error_type: Some("client_closed"),
                streamed: false,
                committed: None,
            }),
            first_byte: None,
            prices: None,
            _permit: permit,
        }
    }

    fn rec(&mut self) -> Option<&mut UsageRecord> {
        self.record.as_mut()
    }

    pub fn set_target(&mut self, provider: &str, upstream_model: &str, prices: Option<(f64, f64)>) {
        self.prices = prices;
        if let Some(r) = self.rec() {
            provider.clone_into(&mut r.provider);
            upstream_model.clone_into(&mut r.upstream_model);
        }
    }

    /// The model the client asked for (known once the body is read).
    pub fn set_requested_model(&mut self, model: &str) {
        if let Some(r) = self.rec() {
            model.clone_into(&mut r.requested_model);
        }
    }

    /// Who made the request.
    pub fn set_identity(&mut self, identity: Option<&crate::auth::Identity>) {
        if let (Some(r), Some(id)) = (self.rec(), identity) {
            r.user = Some(id.user.clone());
            r.key_id = Some(id.key_id.clone());
            r.tpm = id.tpm;
        }
    }

    pub fn set_streamed(&mut self, streamed: bool) {
        if let Some(r) = self.rec() {
            r.streamed = streamed;
        }
    }

    /// Marks the first byte sent to the client.
    pub fn first_byte(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(self.started.elapsed());
        }
    }

    pub fn set_usage(&mut self, prompt: u64, completion: u64) {
        if let Some(r) = self.rec() {
            r.prompt_tokens = prompt;
            r.completion_tokens = completion;
        }
    }

    /// Sets the outcome (the record is sent when the guard is dropped or finished).
    pub fn set_status(&mut self, status: u16, error_type: Option<&'static str>) {
        if let Some(r) = self.rec() {
            r.status = status;
            r.error_type = error_type;
        }
    }

    /// Records the outcome and emits the record.
    pub fn finish(mut self, status: u16, error_type: Option<&'static str>) {
        self.set_status(status, error_type);
        self.emit();
    }

    /// Like [`RecordGuard::finish`], and with `ledger.durability = sync`
    /// waits until the row is committed (a store outage holds the response
    /// until the row is written).
    pub async fn finish_committed(mut self, status: u16, error_type: Option<&'static str>) {
        self.set_status(status, error_type);
        let wait = if self.sink.sync {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if let Some(r) = self.record.as_mut() {
                r.committed = Some(tx);
            }
            Some(rx)
        } else {
            None
        };
        self.emit();
        if let Some(rx) = wait {
            let _ = rx.await;
        }
    }

    fn emit(&mut self) {
        let Some(mut r) = self.record.take() else {
            return;
        };
        let elapsed = self.started.elapsed();
        r.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        r.ttfb_ms = self
            .first_byte
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if let Some((inp, out)) = self.prices {
            #[allow(clippy::cast_precision_loss)]
            let cost =
                (r.prompt_tokens as f64 * inp + r.completion_tokens as f64 * out) / 1_000_000.0;
            r.cost_usd = cost;
        }
        self.sink.send(r);
    }
}

impl Drop for RecordGuard {
    fn drop(&mut self) {
        self.emit();
    }
}

/// How often the consumer drains the queue. Polling instead of awaiting each
/// record keeps the request path from waking another thread per request.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// Where drained records are written in batches.
pub struct LedgerWriter {
    pub store: tokgateway_store::Store,
    pub batch_size: usize,
    pub flush_interval: Duration,
    /// Set false while writes fail (for `/ready`).
    pub healthy: Arc<std::sync::atomic::AtomicBool>,
    /// Token buckets and spend to debit once a request's usage is known.
    pub limits: Option<Arc<crate::ratelimit::RateLimits>>,
    pub default_tpm: Option<u64>,
    /// `ledger.enabled`: false keeps the debits (tokens per minute) but writes no rows.
    pub write: bool,
}

/// A row id: the store's prefix of its time (12 hex digits of
/// milliseconds), then 96 random bits (24 digits).
fn row_id(ms: i64) -> String {
    let mut id = [0u8; 36];
    id[..12].copy_from_slice(&tokgateway_store::id_prefix(ms));
    crate::app::write_hex(&mut id[12..28], fastrand::u64(..));
    crate::app::write_hex(&mut id[28..], u64::from(fastrand::u32(..)));
    // Hex digits: always UTF-8.
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

/// The record's row; its strings move over rather than being copied.
fn to_row(r: UsageRecord) -> tokgateway_store::UsageRow {
    let ms = r
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    tokgateway_store::UsageRow {
        // Unique per request even when a client repeats its x-request-id;
        // time first, so rows are appended at the end of the id index.
        id: row_id(ms),
        time: ms,
        request_id: (*r.request_id).to_owned(),
        user: r.user,
        key_id: r.key_id,
        endpoint: r.endpoint.into(),
        requested_model: r.requested_model,
        upstream_model: r.upstream_model,
        provider: r.provider,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cost_usd: r.cost_usd,
        latency_ms: r.latency_ms,
        ttfb_ms: r.ttfb_ms,
        status: r.status,
        error_type: r.error_type.map(Into::into),
        streamed: r.streamed,
    }
}

/// Ledger rows queued at most; past this, new proxy requests get 503 until
/// the store takes rows again (nothing queued is ever dropped).
pub const MAX_QUEUED: usize = 100_000;

/// Pending rows, waiting for the next batch.
static QUEUED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Rows waiting to be written (for `/metrics`).
pub fn queued() -> usize {
    QUEUED.load(std::sync::atomic::Ordering::Relaxed)
}

impl LedgerWriter {
    /// Charges a finished request to its key's token bucket and spend.
    async fn debit(&self, r: &UsageRecord) {
        let (Some(limits), Some(key)) = (&self.limits, &r.key_id) else {
            return;
        };
        if let Some(tpm) = r.tpm.or(self.default_tpm) {
            limits
                .charge_tokens(key, tpm, r.prompt_tokens + r.completion_tokens)
                .await;
        }
        limits.add_spend(key, r.cost_usd);
    }

    /// Writes `pending`; keeps it (for a retry) when the store fails.
    async fn flush(&self, pending: &mut Vec<tokgateway_store::UsageRow>) -> bool {
        if pending.is_empty() {
            return true;
        }
        let ok = match self.store.write_usage(pending).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(rows = pending.len(), error = %e, "ledger write failed; the rows are kept and retried");
                false
            }
        };
        self.healthy.store(ok, std::sync::atomic::Ordering::Relaxed);
        QUEUED.store(pending.len(), std::sync::atomic::Ordering::Relaxed);
        ok
    }
}

/// Drains the sink: one log line and the metrics per record, and the ledger
/// rows written in batches of `batch_size` or every `flush_interval`. Returns
/// when every sender is gone (after shutdown) and everything queued is
/// written, so nothing is lost on a graceful stop.
pub async fn consume(
    mut rx: mpsc::UnboundedReceiver<UsageRecord>,
    ledger: Option<LedgerWriter>,
    sync: bool,
) {
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Vec<tokgateway_store::UsageRow> = Vec::new();
    let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
    let mut last_flush = Instant::now();
    let mut backoff = Duration::ZERO;
    let mut metrics = crate::metrics::RequestMetrics::default();
    loop {
        let mut closed = false;
        if sync && backoff.is_zero() {
            // Responses wait for their rows: commit as soon as a row arrives;
            // rows arriving during a commit share the next one.
            tokio::select! {
                _ = tick.tick() => {}
                r = rx.recv() => match r {
                    Some(r) => take(r, ledger.as_ref(), &mut metrics, &mut pending, &mut waiting).await,
                    None => closed = true,
                },
            }
            // Requests about to finish run first, so their rows share the
            // commit instead of each waiting for the next: while rows keep
            // coming without a wait, gather them (for at most GATHER).
            let until = Instant::now() + GATHER;
            while !closed {
                tokio::task::yield_now().await;
                let (taken, gone) = drain(
                    &mut rx,
                    ledger.as_ref(),
                    &mut metrics,
                    &mut pending,
                    &mut waiting,
                )
                .await;
                closed = gone;
                let full = ledger
                    .as_ref()
                    .is_some_and(|l| pending.len() >= l.batch_size);
                if taken == 0 || full || Instant::now() >= until {
                    break;
                }
            }
        } else {
            // Draining on a tick rather than waking for every record keeps
            // the accounting's CPU per request low.
            tick.tick().await;
        }
        if !closed {
            closed = drain(
                &mut rx,
                ledger.as_ref(),
                &mut metrics,
                &mut pending,
                &mut waiting,
            )
            .await
            .1;
        }
        let Some(ledger) = &ledger else {
            waiting.clear();
            if closed {
                return;
            }
            continue;
        };
        QUEUED.store(pending.len(), std::sync::atomic::Ordering::Relaxed);
        if closed {
            // Shutdown: write everything, retrying for a while before giving up.
            for attempt in 0..20u32 {
                if ledger.flush(&mut pending).await {
                    for tx in waiting.drain(..) {
                        let _ = tx.send(());
                    }
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt + 1))).await;
            }
            tracing::error!(
                rows = pending.len(),
                "ledger rows could not be written before exit"
            );
            return;
        }
        // Group commit: rows whose responses wait are written at once,
        // together with everything else queued by then.
        let interval = if waiting.is_empty() {
            ledger.flush_interval
        } else {
            Duration::ZERO
        };
        let due = pending.len() >= ledger.batch_size
            || (last_flush.elapsed() >= interval + backoff && !pending.is_empty());
        if due {
            last_flush = Instant::now();
            backoff = if ledger.flush(&mut pending).await {
                for tx in waiting.drain(..) {
                    let _ = tx.send(());
                }
                Duration::ZERO
            } else {
                (backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(5))
            };
        }
    }
}

/// How long a synchronous commit waits at most for rows still arriving
/// (see `consume`); it waits only while they arrive with no pause.
const GATHER: Duration = Duration::from_millis(1);

/// Takes every record queued now; returns how many, and whether every sender
/// is gone.
async fn drain(
    rx: &mut mpsc::UnboundedReceiver<UsageRecord>,
    ledger: Option<&LedgerWriter>,
    metrics: &mut crate::metrics::RequestMetrics,
    pending: &mut Vec<tokgateway_store::UsageRow>,
    waiting: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) -> (usize, bool) {
    let mut taken = 0;
    loop {
        match rx.try_recv() {
            Ok(r) => {
                take(r, ledger, metrics, pending, waiting).await;
                taken += 1;
            }
            Err(mpsc::error::TryRecvError::Empty) => return (taken, false),
            Err(mpsc::error::TryRecvError::Disconnected) => return (taken, true),
        }
    }
}

/// One record: its log line and metrics, its debits, its row.
async fn take(
    mut r: UsageRecord,
    ledger: Option<&LedgerWriter>,
    metrics: &mut crate::metrics::RequestMetrics,
    pending: &mut Vec<tokgateway_store::UsageRow>,
    waiting: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) {
    metrics.record(&r);
    log(&r);
    // Without a ledger, dropping the sender releases the waiter.
    if let Some(tx) = r.committed.take() {
        waiting.push(tx);
    }
    if let Some(l) = ledger {
        l.debit(&r).await;
        if l.write {
            pending.push(to_row(r));
        }
    }
}

fn log(r: &UsageRecord) {
    crate::logging::RequestLine {
        request_id: &r.request_id,
        route: r.endpoint,
        model: &r.requested_model,
        provider: &r.provider,
        status: r.status,
        latency_ms: r.latency_ms,
        ttfb_ms: r.ttfb_ms,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        streamed: r.streamed,
        error: r.error_type,
    }
    .log();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_are_unique_and_sort_by_time() {
        let (a, b) = (row_id(1_790_000_000_000), row_id(1_790_000_000_001));
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert!(
            a.starts_with(&format!("{:012x}", 1_790_000_000_000_i64)),
            "{a}"
        );
        assert!(b > a);
        assert_ne!(row_id(1), row_id(1));
    }
}
