//! Logs with `tracing`: pretty or JSON, to stderr or a rotated file.

use tokgateway_core::config::settings::{LogFormat, LogSettings, Rotation};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Keep the guard until exit: it flushes the
/// file writer. `RUST_LOG`-style overrides come from `TOKGATEWAY_LOG`.
pub fn init(log: &LogSettings) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = std::env::var("TOKGATEWAY_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .map_or_else(|| EnvFilter::try_new(&log.level), Ok)?;
    // Lines are written by a thread of their own, in batches (one write for
    // everything logged since the last one), never by an async worker; none is
    // dropped: a writer that falls 8192 lines behind holds the loggers up.
    // (The queue's slots are allocated up front: 8192 of them cost 256 KiB.)
    let background = |w: Box<dyn std::io::Write + Send>| {
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .buffered_lines_limit(8192)
            .thread_name("gatewayd-log")
            .finish(std::io::BufWriter::with_capacity(64 * 1024, w))
    };
    let (writer, guard) = match &log.file {
        None => {
            let (nb, guard) = background(Box::new(std::io::stderr()));
            (
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(nb),
                Some(guard),
            )
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            std::fs::create_dir_all(dir)?;
            let name = path.file_name().map_or_else(
                || "gatewayd.log".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            let rotation = match log.rotation {
                Rotation::Daily => tracing_appender::rolling::Rotation::DAILY,
                Rotation::Hourly => tracing_appender::rolling::Rotation::HOURLY,
                Rotation::Never => tracing_appender::rolling::Rotation::NEVER,
            };
            let appender = tracing_appender::rolling::RollingFileAppender::new(rotation, dir, name);
            let (nb, guard) = background(Box::new(appender));
            (
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(nb),
                Some(guard),
            )
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder
            .with_ansi(
                log.file.is_none()
                    && std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .try_init(),
    };
    // Already installed (tests running several servers in one process) is fine.
    let _ = result;
    Ok(guard)
}
