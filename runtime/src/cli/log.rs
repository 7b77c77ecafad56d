//! The binary's log: `tracing` events, as text on a terminal and as JSON lines elsewhere (a
//! pod's log), on standard error, so standard output keeps what a command reports — the
//! summary line and the result code. On a terminal, progress bars sit under the log lines.

use super::args::{LogArgs, LogFormat};
use indicatif::MultiProgress;
use std::fmt;
use std::io::{IsTerminal, Write};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// How the log was set up.
#[derive(Debug, Clone)]
pub(super) struct Log {
    /// Where progress bars draw, when standard error is a terminal that shows info lines.
    pub(super) bars: Option<MultiProgress>,
    /// Whether log lines are JSON objects (for machines) rather than text (for a person).
    pub(super) json: bool,
}

/// Whether standard output and standard error are terminals that take colour.
pub(super) fn color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up the log for this process (once: later calls keep the first set-up). `quiet`
/// commands (the development tools, which print their own account) log warnings and
/// errors unless `-v` asks for more.
pub(super) fn init(args: &LogArgs, quiet: bool) -> Log {
    let json = match args.log_format {
        LogFormat::Auto => !std::io::stdout().is_terminal(),
        LogFormat::Text => false,
        LogFormat::Json => true,
    };
    let normal = if quiet { 1 } else { 2 };
    let level = ["error", "warn", "info", "debug", "trace"]
        [(normal + i32::from(args.more) - i32::from(args.less)).clamp(0, 4) as usize];
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,datasurface={level}")));
    let terminal = std::io::stderr().is_terminal();
    let bars = (terminal && !json && args.less == 0 && !quiet).then(MultiProgress::new);
    let writer = Stderr(bars.clone());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    // Only the first set-up of a process counts (tests run many commands in one).
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .with_ansi(color(&std::io::stderr()))
            .event_format(Text)
            .fmt_fields(Plain)
            .try_init()
    };
    Log { bars, json }
}

/// Standard error, written around the progress bars when there are any.
#[derive(Debug, Clone)]
struct Stderr(Option<MultiProgress>);

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;
    fn make_writer(&'a self) -> Stderr {
        self.clone()
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Some(bars) => bars.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A log line for a person: the time (UTC), the level, where it happened (platform, stream
/// and batch), and the message — whose text already holds the figures the JSON lines carry
/// as fields.
struct Text;

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
        let level = *event.metadata().level();
        let (on, off) = match (w.has_ansi_escapes(), level) {
            (false, _) => ("", ""),
            (true, Level::ERROR) => ("\x1b[1;31m", "\x1b[0m"),
            (true, Level::WARN) => ("\x1b[33m", "\x1b[0m"),
            (true, Level::INFO) => ("\x1b[32m", "\x1b[0m"),
            (true, _) => ("\x1b[2m", "\x1b[0m"),
        };
        write!(w, "{} {on}{level:>5}{off} ", now.format("%H:%M:%SZ"))?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(w, "{}{fields}", if any { " " } else { "" })?;
                    any = true;
                }
            }
            if any {
                w.write_str(": ")?;
            }
        }
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Of an event's fields only its message, of a span's only where it is: `YellowLive
/// Store1 batch 3`.
struct Plain;

impl<'w> FormatFields<'w> for Plain {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'w>, fields: R) -> fmt::Result {
        let mut values = Values(Vec::new());
        fields.record(&mut values);
        w.write_str(&values.0.join(" "))
    }
}

struct Values(Vec<String>);

impl Visit for Values {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" | "platform" | "stream" => self.0.push(format!("{value:?}")),
            "batch" => self.0.push(format!("batch {value:?}")),
            _ => {}
        }
    }
}
