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
#[derive(Debug, Default)]
pub(super) struct Lines {
    /// Per dataset and phase: when it started, and when it was last told.
    seen: Mutex<HashMap<Key, (Instant, Instant)>>,
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
        if now.duration_since(*last) >= EVERY {
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
