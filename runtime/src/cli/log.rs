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
    let default = default_filter(level, args.more);
    let (filter, bad_rust_log) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new(&default),
                Some(format!(
                    "RUST_LOG `{directives}` is not a log filter ({e}); logging as without it"
                )),
            ),
        },
        _ => (EnvFilter::new(&default), None),
    };
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
    if let Some(warning) = bad_rust_log {
        tracing::warn!("{warning}");
    }
    Log { bars, json }
}

/// The log filter when `RUST_LOG` does not set one: DataSurface's own events from `level`
/// up; other crates' (kube, hyper, tower, rustls, tokio-postgres…) none at all unless `more`
/// (`-v`) asks — their failures reach the user as DataSurface's errors, which say what to
/// do — then their warnings, and with `-vv` their debug lines.
fn default_filter(level: &str, more: u8) -> String {
    let others = match more {
        0 => "off",
        1 => "warn",
        _ => "debug",
    };
    format!("{others},datasurface={level}")
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

#[cfg(test)]
mod tests {
    use super::default_filter;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::EnvFilter;

    /// What `emit` logs through the default filter of `level` and `more`.
    fn logged(level: &str, more: u8, emit: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(default_filter(level, more)))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = buffer.0.lock().unwrap().clone();
        String::from_utf8(text).unwrap()
    }

    fn events() {
        tracing::error!(target: "kube_client::client", "failed with error client error (Connect)");
        tracing::warn!(target: "rustls::conn", "a library warning");
        tracing::debug!(target: "hyper_util::client", "a library debug line");
        tracing::info!(target: "datasurface::engine::run", "batch 3 committed");
        tracing::debug!(target: "datasurface_deploy::wait", "waiting for the job");
    }

    #[test]
    fn other_crates_stay_out_of_the_log_unless_asked_for() {
        let normal = logged("info", 0, events);
        assert!(normal.contains("batch 3 committed"), "{normal}");
        assert!(!normal.contains("client error (Connect)"), "{normal}");
        assert!(!normal.contains("a library warning"), "{normal}");
        assert!(!normal.contains("waiting for the job"), "{normal}");

        let verbose = logged("debug", 1, events);
        assert!(verbose.contains("client error (Connect)"), "{verbose}");
        assert!(verbose.contains("a library warning"), "{verbose}");
        assert!(!verbose.contains("a library debug line"), "{verbose}");
        assert!(verbose.contains("waiting for the job"), "{verbose}");

        let very = logged("trace", 2, events);
        assert!(very.contains("a library debug line"), "{very}");
    }

    #[test]
    fn the_default_filter_names_datasurface_alone() {
        assert_eq!(default_filter("info", 0), "off,datasurface=info");
        assert_eq!(default_filter("debug", 1), "warn,datasurface=debug");
        assert_eq!(default_filter("trace", 3), "debug,datasurface=trace");
    }
}
