//! `gatewayd`, tokgateway's daemon. `main.rs` only calls [`main`]; tests start
//! the whole server in-process with [`start`].
//!
//! - [`app`]: state, router and the per-request frame (its doc lists the layers);
//! - [`proxy`]: the chat path; [`upstream`]: providers; [`routing`]: model → providers;
//! - [`accounting`]: one usage record per request; [`metrics`]: Prometheus;
//! - [`server`]: listen, TLS, graceful shutdown;
//! - [`Allocator`]: the binaries' global allocator (mimalloc).

pub mod accounting;
pub mod admin;
mod allocator;
pub mod app;
pub mod auth;
pub mod chatstream;
pub mod cli;
pub mod console;
pub mod error;
pub mod gemini;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod responses;
pub mod routes;
pub mod routing;
pub mod server;
pub mod sse;
pub mod tls;
pub mod upstream;

pub use allocator::Allocator;
pub use tokgateway_protocol::translate;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokgateway_core::config::{Loaded, Settings};
use tokio_util::sync::CancellationToken;

/// Runs `gatewayd` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let fail = |code: u8, msg: &str| {
        let _ = writeln!(std::io::stderr(), "error: {msg}");
        ExitCode::from(code)
    };
    let loaded = match cli.config.load() {
        Ok(l) => l,
        Err(e) => return fail(2, &e.to_string()),
    };
    for w in &loaded.warnings {
        let _ = writeln!(std::io::stderr(), "warning: {w}");
    }
    let settings = match loaded.settings().and_then(|s| check_open(&s).map(|()| s)) {
        Ok(s) => s,
        Err(e) => return fail(2, &e.to_string()),
    };
    if matches!(cli.command, Some(cli::Command::Check)) {
        let _ = writeln!(
            std::io::stdout(),
            "configuration ok: environment {}, {} provider(s), {} route(s), from {}",
            settings.environment,
            settings.providers.len(),
            settings.routes.len(),
            loaded.config_dir.display()
        );
        return ExitCode::SUCCESS;
    }
    match run(&loaded, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, &format!("{e:#}")),
    }
}

/// With auth off, gatewayd listens only on loopback unless `auth.allow_open`.
fn check_open(s: &Settings) -> Result<(), tokgateway_core::config::ConfigError> {
    if !s.auth.enabled && !s.auth.allow_open && !s.server.listen.ip().is_loopback() {
        return Err(tokgateway_core::config::ConfigError::Usage(format!(
            "refusing to listen on {} with auth disabled: anyone could use your providers. \
             Enable auth (auth.enabled = true), listen on a loopback address, or set auth.allow_open = true",
            s.server.listen
        )));
    }
    Ok(())
}

fn run(loaded: &Loaded, settings: Settings) -> anyhow::Result<()> {
    let _log_guard = logging::init(&settings.log)?;
    let report = tokgateway_core::platform::apply_limits(
        settings.limits.max_memory,
        settings.limits.max_open_files,
    );
    for a in &report.applied {
        tracing::debug!(limit = %a, "resource limit applied");
    }
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.limits.worker_threads)
        .enable_all()
        .build()?;
    let env = loaded.environment.clone();
    runtime.block_on(async move {
        let running = start(settings).await?;
        tracing::info!(
            url = %running.url,
            env = %env,
            store = store_kind(&running.app.settings.store_url),
            auth = if running.app.settings.auth.enabled { "on" } else { "off" },
            "gatewayd listening on {}", running.url
        );
        if running.app.settings.server.console {
            tracing::info!(
                console = %running.app.console.describe(),
                "console at {}/console/", running.url
            );
        }
        server::shutdown_signal().await;
        running.stop().await;
        anyhow::Ok(())
    })?;
    // Let background work (file log writer) finish.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn store_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A server started in this process.
pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    pub app: Arc<app::AppState>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    background: tokio_util::task::TaskTracker,
}

impl Running {
    /// Graceful stop: stop accepting, drain in-flight requests, then drain
    /// the accounting queue so no record is lost.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        // The last senders go with the app state.
        let store = self.app.store.clone();
        drop(self.app);
        self.background.close();
        self.background.wait().await;
        store.close().await;
    }
}

/// Runs `job` every `period` (the first time at once) until shutdown or until
/// the app state is gone; the task holds no strong reference between runs.
fn every<F, Fut>(
    background: &tokio_util::task::TaskTracker,
    shutdown: &CancellationToken,
    app: &Arc<app::AppState>,
    period: Duration,
    job: F,
) where
    F: Fn(Arc<app::AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(app);
    let token = shutdown.clone();
    background.spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Some(app) = weak.upgrade() else { break };
            job(app).await;
        }
    });
}

/// Binds and serves `settings` on the current runtime.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let (sink, rx) = accounting::Sink::new(
        settings.ledger.durability == tokgateway_core::config::settings::Durability::Sync,
    );
    let store = tokgateway_store::Store::connect(&settings.store_url).await?;
    let ledger = accounting::LedgerWriter {
        store: store.clone(),
        batch_size: settings.ledger.batch_size,
        flush_interval: settings.ledger.flush_interval,
        healthy: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        limits: None,
        default_tpm: None,
        write: settings.ledger.enabled,
    };
    if !settings.ledger.enabled {
        tracing::warn!(
            "ledger.enabled = false: no usage rows are written, and key budgets are not enforced"
        );
    }
    let redis = match &settings.ratelimit.redis_url {
        Some(url) => {
            let masked = tokgateway_core::secret::mask_url(url);
            let client = redis::Client::open(url.as_str())
                .map_err(|e| anyhow::anyhow!("ratelimit.redis_url {masked}: {e}"))?;
            Some(
                redis::aio::ConnectionManager::new(client)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot reach Redis at {masked}: {e}"))?,
            )
        }
        None => None,
    };
    let app = app::AppState::new(settings, sink, store, redis)?;
    let ledger = accounting::LedgerWriter {
        healthy: app.ledger_healthy.clone(),
        limits: Some(app.limits.clone()),
        default_tpm: app.settings.ratelimit.default_tpm,
        ..ledger
    };
    let _ = metrics::handle();
    let server = server::Server::bind(&app).await?;
    let url = server.url();
    let addr = server.local_addr;
    let shutdown = CancellationToken::new();
    let background = tokio_util::task::TaskTracker::new();
    let sync =
        app.settings.ledger.durability == tokgateway_core::config::settings::Durability::Sync;
    background.spawn(accounting::consume(rx, Some(ledger), sync));
    if app.settings.limits.max_memory.is_some() {
        every(
            &background,
            &shutdown,
            &app,
            Duration::from_millis(250),
            |app| async move {
                let _ = tokio::task::spawn_blocking(move || app.check_memory()).await;
            },
        );
    }
    // The Prometheus recorder keeps every histogram sample until it is folded
    // into its buckets: without a scrape, that is memory growing with traffic.
    // Folding takes time in proportion to the requests served since the last
    // fold (~1 ms after 5 s at 12k requests/s on the benchmark machine): it
    // runs on the blocking pool, not on a worker serving requests.
    every(
        &background,
        &shutdown,
        &app,
        Duration::from_secs(5),
        |_| async {
            let _ = tokio::task::spawn_blocking(metrics::upkeep).await;
        },
    );
    // Expired Responses API responses are invisible at once (reads check the
    // expiry) and deleted here, hourly.
    every(
        &background,
        &shutdown,
        &app,
        Duration::from_secs(3600),
        |app| async move {
            match app.store.purge_responses(tokgateway_store::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired stored responses deleted"),
                Err(e) => tracing::warn!(error = %e, "deleting expired stored responses failed"),
            }
        },
    );
    let drain = app.settings.server.shutdown_timeout;
    let server = tokio::spawn(server.run(app.clone(), shutdown.clone(), drain));
    Ok(Running {
        url,
        addr,
        app,
        shutdown,
        server,
        background,
    })
}
