//! Logs with `tracing`: pretty or JSON, to stderr or a rotated file.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};
use tokgateway_core::config::settings::{LogFormat, LogSettings, Rotation};

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Keep the guard until exit: dropping it
/// writes what is still buffered. `RUST_LOG`-style overrides come from
/// `TOKGATEWAY_LOG`.
pub fn init(log: &LogSettings) -> anyhow::Result<LogGuard> {
    let filter = std::env::var("TOKGATEWAY_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .map_or_else(|| EnvFilter::try_new(&log.level), Ok)?;
    let out: Box<dyn Write + Send> = match &log.file {
        None => Box::new(std::io::stderr()),
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
            Box::new(tracing_appender::rolling::RollingFileAppender::new(
                rotation, dir, name,
            ))
        }
    };
    let (writer, guard) = Batched::start(out)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone());
    let (result, direct) = match log.format {
        LogFormat::Json => (
            builder.json().flatten_event(true).try_init(),
            Some(Layout::Json),
        ),
        LogFormat::Pretty => {
            let ansi = log.file.is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none();
            let builder = builder.fmt_fields(Fields);
            if ansi {
                (builder.with_ansi(true).try_init(), None)
            } else {
                (
                    builder.with_ansi(false).event_format(Line).try_init(),
                    Some(Layout::Pretty),
                )
            }
        }
    };
    // Already installed (tests running several servers in one process) is
    // fine: the first subscriber and its writer stay, and so does the
    // request lines' direct path to that writer.
    if let (Ok(()), Some(layout)) = (result, direct) {
        let _ = DIRECT.set(Direct { writer, layout });
    }
    Ok(guard)
}

/// The line logged for each request (target `tokgateway::request`) by the
/// accounting consumer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLine<'a> {
    pub request_id: &'a str,
    pub route: &'static str,
    pub model: &'a str,
    pub provider: &'a str,
    pub status: u16,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub streamed: bool,
    pub error: Option<&'static str>,
}

/// Where request lines go without a tracing event: the writer of the
/// subscriber [`init`] installed, and its layout (none with colors, which
/// only a terminal gets: those lines take the event path).
static DIRECT: OnceLock<Direct> = OnceLock::new();

struct Direct {
    writer: Batched,
    layout: Layout,
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Pretty,
    Json,
}

/// A field's name as each layout writes it before the value, `" name="` and
/// `",\"name\":"`: one piece to append either way.
macro_rules! field {
    ($name:literal) => {
        (concat!(" ", $name, "="), concat!(",\"", $name, "\":"))
    };
}

impl Layout {
    /// Writes what comes before a field's value (see [`field!`]).
    #[inline(always)]
    fn name(self, out: &mut String, (pretty, json): (&str, &str)) {
        out.push_str(match self {
            Layout::Pretty => pretty,
            Layout::Json => json,
        });
    }

    /// Writes a text field: a JSON string in JSON lines; in pretty ones a
    /// `Display` field as it is, a `&str` field quoted, all cleared of
    /// controls.
    #[inline(always)]
    fn text(self, out: &mut String, field: (&str, &str), value: &str, display: bool) {
        use std::fmt::Write as _;
        self.name(out, field);
        match self {
            Layout::Json => out.push_str(&serde_json::to_string(value).unwrap_or_default()),
            Layout::Pretty if display => {
                let _ = Clean(&mut *out).write_str(value);
            }
            Layout::Pretty => quoted(out, value),
        }
    }
}

impl RequestLine<'_> {
    /// Logs the line if the filter lets `tokgateway::request` lines through.
    /// Written straight to the log's writer, laid out byte for byte as the
    /// subscriber lays out the equivalent event (the tests compare the two),
    /// at a fraction of the cost: one request line through tracing's field
    /// visitors cost a request ~6k instructions, a tenth of what proxying
    /// it does.
    pub(crate) fn log(&self) {
        if !tracing::enabled!(
            target: "tokgateway::request",
            tracing::Level::INFO,
            request_id,
            route,
            model,
            provider,
            status,
            latency_ms,
            ttfb_ms,
            prompt_tokens,
            completion_tokens,
            streamed,
            error
        ) {
            return;
        }
        match DIRECT.get() {
            Some(d) => {
                let mut line = String::with_capacity(320);
                self.write(d.layout, SystemTime::now(), &mut line);
                let _ = (&d.writer).write_all(line.as_bytes());
            }
            None => self.event(),
        }
    }

    /// The line as a tracing event.
    fn event(&self) {
        tracing::info!(
            target: "tokgateway::request",
            request_id = %self.request_id,
            route = self.route,
            model = %self.model,
            provider = %self.provider,
            status = self.status,
            latency_ms = self.latency_ms,
            ttfb_ms = self.ttfb_ms,
            prompt_tokens = self.prompt_tokens,
            completion_tokens = self.completion_tokens,
            streamed = self.streamed,
            error = self.error,
            "request"
        );
    }

    /// Appends the line, laid out as `layout`, logged at `now`: the same
    /// fields in the same order, each as `layout` writes a name and a value.
    fn write(&self, layout: Layout, now: SystemTime, out: &mut String) {
        let json = matches!(layout, Layout::Json);
        if json {
            out.push_str("{\"timestamp\":\"");
            let _ = write_timestamp(out, now);
            // The timestamp ends with a space, for pretty lines.
            out.pop();
            out.push_str("\",\"level\":\"INFO\",\"message\":\"request\"");
        } else {
            let _ = write_timestamp(out, now);
            out.push_str(" INFO tokgateway::request: request");
        }
        layout.text(out, field!("request_id"), self.request_id, true);
        layout.text(out, field!("route"), self.route, false);
        layout.text(out, field!("model"), self.model, true);
        layout.text(out, field!("provider"), self.provider, true);
        let mut itoa = itoa::Buffer::new();
        for (field, value) in [
            (field!("status"), Some(u64::from(self.status))),
            (field!("latency_ms"), Some(self.latency_ms)),
            (field!("ttfb_ms"), self.ttfb_ms),
            (field!("prompt_tokens"), Some(self.prompt_tokens)),
            (field!("completion_tokens"), Some(self.completion_tokens)),
        ] {
            if let Some(v) = value {
                layout.name(out, field);
                out.push_str(itoa.format(v));
            }
        }
        layout.name(out, field!("streamed"));
        out.push_str(if self.streamed { "true" } else { "false" });
        if let Some(e) = self.error {
            layout.text(out, field!("error"), e, false);
        }
        out.push_str(if json {
            ",\"target\":\"tokgateway::request\"}\n"
        } else {
            "\n"
        });
    }
}

/// `value` quoted as `Debug` quotes it: as it is when nothing in it needs
/// an escape (printable ASCII but `"` and `\`), the usual case.
fn quoted(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    if value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        let _ = write!(out, "{value:?}");
    }
}

/// A pretty line without colors, laid out as tracing-subscriber's default
/// (`Full`) format lays it out — timestamp, level, spans, target, fields —
/// with the timestamp's date and time of day written once a second per
/// thread rather than formatted for every line.
struct Line;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Line
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::FormatFields;
        write_timestamp(&mut w, std::time::SystemTime::now())?;
        let meta = event.metadata();
        w.write_str(match *meta.level() {
            tracing::Level::TRACE => "TRACE ",
            tracing::Level::DEBUG => "DEBUG ",
            tracing::Level::INFO => " INFO ",
            tracing::Level::WARN => " WARN ",
            tracing::Level::ERROR => "ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                w.write_str(span.metadata().name())?;
                any = true;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<tracing_subscriber::fmt::FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(w, "{{{fields}}}")?;
                }
                w.write_char(':')?;
            }
            if any {
                w.write_char(' ')?;
            }
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        ctx.format_fields(w.by_ref(), event)?;
        w.write_char('\n')
    }
}

/// Writes `2026-12-01T09:54:02.136046Z ` (RFC 3339, UTC, microseconds).
fn write_timestamp(w: &mut impl std::fmt::Write, now: std::time::SystemTime) -> std::fmt::Result {
    use std::fmt::Write as _;
    thread_local! {
        /// The second last written, and its date and time of day.
        static SECOND: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            *cached = secs;
            text.clear();
            // `2026-12-01T09:54:02Z`, without its `Z` (the fraction goes first).
            let second = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let _ = write!(text, "{}", humantime::format_rfc3339_seconds(second));
            text.pop();
        }
        // `.{:06}` without the formatting machinery: the digits of
        // 1_000_000 + µs, past the leading 1.
        let mut digits = itoa::Buffer::new();
        let fraction = &digits.format(1_000_000 + since.subsec_micros())[1..];
        w.write_str(text)?;
        w.write_char('.')?;
        w.write_str(fraction)?;
        w.write_str("Z ")
    })
}

/// How long the writing thread lets lines gather once one is waiting: one
/// write (and one wake-up of the thread) per batch, not per line.
const LINGER: Duration = Duration::from_millis(10);

/// Lines buffered past which loggers wait for the writer (none is dropped).
const MAX_BUFFERED: usize = 4 << 20;

/// Log lines go into a shared buffer that a thread of its own writes out in
/// batches, so the threads serving requests never make a system call to log
/// (but for the first line of a batch, which wakes the writer).
#[derive(Clone)]
struct Batched(Arc<Shared>);

struct Shared {
    state: Mutex<Buffer>,
    /// Lines are waiting (or the guard is gone).
    lines: Condvar,
    /// The buffer was taken: there is room again.
    room: Condvar,
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

impl Batched {
    fn start(mut out: Box<dyn Write + Send>) -> std::io::Result<(Self, LogGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            lines: Condvar::new(),
            room: Condvar::new(),
        });
        let batched = Batched(shared.clone());
        let thread = std::thread::Builder::new()
            .name("gatewayd-log".into())
            .spawn(move || {
                let mut spare = Vec::new();
                loop {
                    let mut state = shared.lock();
                    while state.bytes.is_empty() && !state.closed {
                        state = shared.lines.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                    if !state.closed {
                        drop(state);
                        std::thread::sleep(LINGER);
                        state = shared.lock();
                    }
                    let closed = state.closed;
                    std::mem::swap(&mut state.bytes, &mut spare);
                    drop(state);
                    shared.room.notify_all();
                    // Nowhere to report a failing log writer but the log.
                    let _ = out.write_all(&spare).and_then(|()| out.flush());
                    spare.clear();
                    // A burst (or a slow disk) must not keep megabytes for good.
                    if spare.capacity() > 1 << 20 {
                        spare = Vec::new();
                    }
                    if closed && shared.lock().bytes.is_empty() {
                        return;
                    }
                }
            })?;
        Ok((
            batched.clone(),
            LogGuard {
                batched,
                thread: Some(thread),
            },
        ))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for &Batched {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = &self.0;
        let mut state = shared.lock();
        while state.bytes.len() >= MAX_BUFFERED && !state.closed {
            state = shared.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let first = state.bytes.is_empty();
        state.bytes.extend_from_slice(line);
        drop(state);
        if first {
            shared.lines.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = &'a Batched;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Writes out what is buffered and stops the log thread when dropped.
pub struct LogGuard {
    batched: Batched,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.batched.0.lock().closed = true;
        self.batched.0.lines.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The fields of a pretty line, `name=value` separated by spaces, as
/// tracing-subscriber writes them, but with every value — `Display` ones
/// too, which its formatter writes raw — cleared of control characters, so a
/// client cannot put terminal escapes in the log through a model name. It
/// writes each value in runs rather than through styled pieces, which made
/// the request line (a dozen fields) cost several times what it needs.
struct Fields;

impl<'w> tracing_subscriber::fmt::FormatFields<'w> for Fields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: tracing_subscriber::fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = FieldVisitor {
            out: Clean(&mut writer),
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'a, 'w> {
    out: Clean<&'a mut tracing_subscriber::fmt::format::Writer<'w>>,
    first: bool,
    result: std::fmt::Result,
}

impl FieldVisitor<'_, '_> {
    /// Writes the separator and `name=` (nothing for the message).
    fn name(&mut self, field: &tracing::field::Field) -> std::fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.out.0.write_char(' ')?;
        }
        match field.name() {
            "message" => Ok(()),
            name => {
                self.out
                    .0
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.out.0.write_char('=')
            }
        }
    }

    fn record(
        &mut self,
        field: &tracing::field::Field,
        value: impl FnOnce(&mut Self) -> std::fmt::Result,
    ) {
        if self.result.is_ok() {
            self.result = self.name(field).and_then(|()| value(self));
        }
    }
}

impl tracing::field::Visit for FieldVisitor<'_, '_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        // Strings are quoted, as `Debug` does (which escapes them), but the
        // message is written as it is (cleared of control characters).
        if field.name() == "message" {
            self.record(field, |v| v.out.write_str(value));
        } else {
            self.record(field, |v| write!(v.out.0, "{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.record(field, |v| {
            v.out.0.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.record(field, |v| {
            v.out.0.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.record(field, |v| {
            v.out.0.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        use std::fmt::Write;
        self.record(field, |v| {
            write!(v.out, "{value}")?;
            let mut source = value.source();
            while let Some(s) = source {
                write!(v.out, ": {s}")?;
                source = s.source();
            }
            Ok(())
        });
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        self.record(field, |v| write!(v.out, "{value:?}"));
    }
}

/// A writer that replaces the characters a terminal acts on — C0 controls,
/// DEL and the C1 controls — by their escapes (`\x1b`, `\u{9b}`), writing
/// everything between them in one piece.
struct Clean<W>(W);

impl<W: std::fmt::Write> std::fmt::Write for Clean<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut rest = s;
        while let Some(at) = control_at(rest.as_bytes()) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            if (c as u32) < 0x80 {
                write!(self.0, "\\x{:02x}", c as u32)?;
            } else {
                write!(self.0, "\\u{{{:x}}}", c as u32)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// Where the first control character (`char::is_control`) of UTF-8 text starts.
fn control_at(text: &[u8]) -> Option<usize> {
    text.iter().enumerate().position(|(i, &b)| {
        b < 0x20
            || b == 0x7f
            || (b == 0xc2 && text.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// The lines logged while `f` runs, formatted as gatewayd's pretty lines.
    fn lines(f: impl FnOnce()) -> String {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .fmt_fields(super::Fields)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.lock().unwrap().clone()).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_look_like_tracing_subscribers() {
        let out = lines(|| {
            let model = "gpt-4o";
            tracing::info!(target: "t", request_id = %"req_1", model = %model, status = 200_u16, delta = -3_i64, streamed = false, error = None::<&str>, note = "a \"b\"", list = ?["x"], "request");
        });
        assert_eq!(
            out,
            " INFO t: request request_id=req_1 model=gpt-4o status=200 delta=-3 streamed=false note=\"a \\\"b\\\"\" list=[\"x\"]\n"
        );
    }

    #[test]
    fn string_values_are_quoted_as_debug_writes_them() {
        let texts = [
            "/v1/chat/completions",
            "",
            "say \"hi\"",
            "back\\slash",
            "café",
            "tab\there",
            "~ !",
        ];
        for text in texts {
            let out = lines(|| {
                tracing::info!(target: "t", route = text, "m");
            });
            assert_eq!(out, format!(" INFO t: m route={text:?}\n"), "{text:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped_in_every_value() {
        let evil = "m\u{1b}[31mred\u{7}\u{9b}2J\nnext";
        let out = lines(|| {
            tracing::warn!(target: "t", model = %evil, debug = ?evil, raw = evil, "bad \u{1b}[0m {evil}");
        });
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{9b}') && !out.contains('\u{7}'),
            "{out:?}"
        );
        assert_eq!(out.lines().count(), 1, "{out:?}");
        assert!(
            out.contains("model=m\\x1b[31mred\\x07\\u{9b}2J\\x0anext"),
            "{out:?}"
        );
        assert!(out.contains("bad \\x1b[0m m\\x1b"), "{out:?}");
        assert!(
            out.contains(r#"raw="m\u{1b}[31mred\u{7}\u{9b}2J\nnext""#),
            "{out:?}"
        );
        let errors = lines(|| {
            let e = std::io::Error::other("disk \u{1b}full");
            tracing::error!(target: "t", error = &e as &(dyn std::error::Error + 'static), "write failed");
        });
        assert_eq!(errors, "ERROR t: write failed error=disk \\x1bfull\n");
    }

    /// Request lines worth comparing: every optional field set and unset,
    /// and client-chosen text holding quotes, escapes, controls and non-ASCII.
    fn request_lines() -> Vec<super::RequestLine<'static>> {
        let base = super::RequestLine {
            request_id: "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            route: "/v1/chat/completions",
            model: "gpt-4o-mini",
            provider: "openai",
            status: 200,
            latency_ms: 1234,
            ttfb_ms: Some(56),
            prompt_tokens: 12,
            completion_tokens: 345,
            streamed: true,
            error: None,
        };
        vec![
            base,
            super::RequestLine {
                ttfb_ms: None,
                streamed: false,
                status: 502,
                error: Some("upstream_error"),
                ..base
            },
            super::RequestLine {
                request_id: "client\tid \"q\"",
                route: "/anthropic/v1/messages",
                model: "m\u{1b}[31mred\u{7}\u{9b}2J\nnext \"x\" \\ café",
                provider: "",
                status: 499,
                latency_ms: u64::MAX,
                ttfb_ms: Some(0),
                prompt_tokens: 0,
                completion_tokens: 0,
                streamed: false,
                error: Some("say \"hi\"\\"),
            },
        ]
    }

    /// What the subscriber writes for `line`'s event, and what the direct
    /// path writes, laid out as `layout`.
    fn both(line: &super::RequestLine<'_>, layout: super::Layout) -> (String, String) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let builder = tracing_subscriber::fmt().with_writer(move || Sink(sink.clone()));
        match layout {
            super::Layout::Pretty => {
                let s = builder
                    .with_ansi(false)
                    .fmt_fields(super::Fields)
                    .event_format(super::Line)
                    .finish();
                tracing::subscriber::with_default(s, || line.event());
            }
            super::Layout::Json => {
                let s = builder.json().flatten_event(true).finish();
                tracing::subscriber::with_default(s, || line.event());
            }
        }
        let event = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let mut direct = String::new();
        line.write(layout, std::time::SystemTime::now(), &mut direct);
        (event, direct)
    }

    #[test]
    fn direct_request_lines_are_the_subscribers_pretty_lines() {
        for line in request_lines() {
            let (event, direct) = both(&line, super::Layout::Pretty);
            // Timestamps (`2026-12-01T09:54:02.136046Z `) cut off.
            assert_eq!(&direct[26..28], "Z ", "{direct}");
            assert_eq!(direct[28..], event[28..], "{line:?}");
            assert!(!direct.contains('\u{1b}') && !direct.contains('\u{9b}'));
            assert_eq!(direct.matches('\n').count(), 1, "{direct:?}");
        }
        let (_, direct) = both(&request_lines()[0], super::Layout::Pretty);
        assert_eq!(
            &direct[28..],
            " INFO tokgateway::request: request request_id=0a1b2c3d-4e5f-6789-abcd-ef0123456789 \
             route=\"/v1/chat/completions\" model=gpt-4o-mini provider=openai status=200 \
             latency_ms=1234 ttfb_ms=56 prompt_tokens=12 completion_tokens=345 streamed=true\n"
        );
    }

    #[test]
    fn direct_request_lines_are_the_subscribers_json_lines() {
        // The timestamp's value blanked.
        fn blank(line: &str) -> String {
            let at = line.find("\"timestamp\":\"").unwrap() + 13;
            let end = at + line[at..].find('"').unwrap();
            format!("{}{}", &line[..at], &line[end..])
        }
        for line in request_lines() {
            let (event, direct) = both(&line, super::Layout::Json);
            assert_eq!(blank(&direct), blank(&event), "{line:?}");
            let v: serde_json::Value = serde_json::from_str(&direct).unwrap();
            assert_eq!(v["model"], line.model);
            assert_eq!(v["latency_ms"], line.latency_ms);
            assert_eq!(v["error"].as_str(), line.error);
            assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        }
    }

    #[test]
    fn batched_lines_are_all_written_in_order_by_the_guard_at_the_latest() {
        use std::io::Write;
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (writer, guard) = super::Batched::start(Box::new(Sink(buf.clone()))).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = &writer;
                s.spawn(move || {
                    for i in 0..5000 {
                        let mut w = writer;
                        w.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                });
            }
        });
        drop(guard);
        let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let mut next = [0; 4];
        for line in out.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines out of order");
            next[t] += 1;
        }
        assert_eq!(next, [5000; 4]);
    }

    #[test]
    fn a_line_is_written_soon_without_the_guard() {
        use std::io::Write;
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (writer, _guard) = super::Batched::start(Box::new(Sink(buf.clone()))).unwrap();
        (&writer).write_all(b"listening\n").unwrap();
        for _ in 0..200 {
            if buf.lock().unwrap().as_slice() == b"listening\n" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the line was not written within a second");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = |secs: u64, micros: u64| {
            let mut out = String::new();
            let t =
                std::time::UNIX_EPOCH + std::time::Duration::from_micros(secs * 1_000_000 + micros);
            super::write_timestamp(&mut out, t).unwrap();
            out
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z ");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z ");
        assert_eq!(at(1_764_583_199, 999_999), "2025-12-01T09:59:59.999999Z ");
        // The same second again (cached), then the next.
        assert_eq!(at(1_764_583_199, 1), "2025-12-01T09:59:59.000001Z ");
        assert_eq!(at(1_790_000_000, 136_046), "2026-09-21T14:13:20.136046Z ");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z ");
    }

    #[test]
    fn lines_are_laid_out_as_tracing_subscribers_full_format() {
        // Ours and tracing-subscriber's, timestamps cut off.
        let log = |ours: bool| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let sink = buf.clone();
            let builder = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .fmt_fields(super::Fields)
                .with_writer(move || Sink(sink.clone()));
            let emit = || {
                tracing::info!(target: "a::b", n = 1_u64, "first");
                let span = tracing::info_span!("outer", k = "v");
                let _in = span.enter();
                let inner = tracing::debug_span!("inner");
                let _in2 = inner.enter();
                tracing::error!(target: "c", "second");
                tracing::trace!("third");
            };
            if ours {
                tracing::subscriber::with_default(builder.event_format(super::Line).finish(), emit);
            } else {
                tracing::subscriber::with_default(builder.finish(), emit);
            }
            let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
            out.lines()
                .map(|l| {
                    assert_eq!(&l[26..28], "Z ", "{l}");
                    l[28..].to_owned()
                })
                .collect::<Vec<_>>()
        };
        let ours = log(true);
        assert_eq!(ours, log(false));
        assert_eq!(ours[0], " INFO a::b: first n=1");
        assert_eq!(ours[1], "ERROR outer{k=\"v\"}:inner: c: second");
        assert!(
            ours[2].starts_with(
                "TRACE outer{k=\"v\"}:inner: tokgateway_gatewayd::logging::tests: third"
            ),
            "{}",
            ours[2]
        );
    }
}
