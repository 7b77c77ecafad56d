//! A batch's progress as a person sees it: per dataset, the rows and rows per second of its
//! snapshot and its merge — bars on a terminal, a log line every few seconds elsewhere.

use crate::engine::{Phase, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A dataset's phase.
type Key = (String, Phase);

/// Between two progress lines of one phase, off a terminal.
const EVERY: Duration = Duration::from_secs(5);

/// Bars under the log on a terminal.
#[derive(Debug)]
pub(super) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<Key, ProgressBar>>,
}

impl Bars {
    pub(super) fn new(multi: MultiProgress) -> Self {
        Bars {
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with_bar(&self, dataset: &str, phase: Phase, f: impl FnOnce(&ProgressBar)) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let key = (dataset.to_owned(), phase);
        let bar = bars.entry(key).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            let template = match phase {
                Phase::Snapshot => "{spinner} {prefix:<40} {human_pos:>12} rows  {elapsed}",
                Phase::Merge => "{spinner} {prefix:<40} {elapsed:>19}",
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar.set_prefix(format!("{phase} of {dataset}"));
            bar
        });
        f(bar);
    }
}

impl Progress for Bars {
    fn rows(&self, dataset: &str, phase: Phase, rows: u64) {
        self.with_bar(dataset, phase, |bar| bar.set_position(rows));
    }

    fn done(&self, dataset: &str, phase: Phase, rows: u64) {
        self.with_bar(dataset, phase, |bar| {
            bar.set_position(rows);
            bar.finish_and_clear();
        });
    }
}

/// A log line now and then, where no one watches a terminal.
#[derive(Debug)]
pub(super) struct Lines {
    every: Duration,
    /// Per dataset and phase: when it started, and when it was last told.
    seen: Mutex<HashMap<Key, (Instant, Instant)>>,
}

impl Default for Lines {
    fn default() -> Self {
        Lines {
            every: EVERY,
            seen: Mutex::default(),
        }
    }
}

impl Progress for Lines {
    fn rows(&self, dataset: &str, phase: Phase, rows: u64) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let now = Instant::now();
        let (started, last) = seen
            .entry((dataset.to_owned(), phase))
            .or_insert((now, now));
        if now.duration_since(*last) >= self.every {
            *last = now;
            let seconds = now.duration_since(*started).as_secs_f64().max(0.001);
            let per_second = rows as f64 / seconds;
            tracing::info!(
                dataset,
                phase = phase_name(phase),
                rows,
                rows_per_second = per_second.round(),
                "{phase} of {dataset}: {rows} rows so far ({per_second:.0} rows/s)"
            );
        }
    }

    fn done(&self, dataset: &str, phase: Phase, _: u64) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(&(dataset.to_owned(), phase));
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Snapshot => "snapshot",
        Phase::Merge => "merge",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// What the log received.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn off_a_terminal_progress_is_a_log_line_now_and_then() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let lines = Lines {
                every: Duration::ZERO,
                ..Lines::default()
            };
            // The first call starts the clock; each later one is due at once.
            for rows in [0, 40_000, 80_000] {
                lines.rows("customers", Phase::Snapshot, rows);
            }
            lines.done("customers", Phase::Snapshot, 80_000);
            // The default tells once every few seconds: not within this test.
            let quiet = Lines::default();
            for rows in [0, 1, 2] {
                quiet.rows("addresses", Phase::Snapshot, rows);
            }
        });
        let text = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
        let told: Vec<&str> = text.lines().collect();
        assert_eq!(told.len(), 3, "{text}");
        assert!(
            told[2].contains("snapshot of customers: 80000 rows so far ("),
            "{text}"
        );
        assert!(told[2].contains(" rows/s)"), "{text}");
        assert!(!text.contains("addresses"), "{text}");
    }
}
