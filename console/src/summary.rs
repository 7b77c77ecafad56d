//! What needs attention first: the datasets that are late, stale or never loaded and the
//! streams whose batch failed, worked out once per read of the batch tables so the home
//! page of a 100,000-dataset ecosystem costs nothing to open.

use crate::catalog::{Catalog, dataset_path};
use crate::health::{Freshness, Health};
use chrono::{DateTime, Utc};
use datasurface_model::format_duration;
use std::time::Duration;

/// The most problems the home page lists.
pub const MAX_PROBLEMS: usize = 100;

/// One thing to look at.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `failed`, `stale`, `late`, `never` or `unknown`: worst first.
    pub state: &'static str,
    pub label: String,
    pub path: String,
    pub platform: String,
    pub detail: String,
}

/// Counts of datasets by freshness, and the worst problems.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub counts: Vec<(&'static str, usize)>,
    pub problems: Vec<Problem>,
    /// Problems not listed.
    pub more: usize,
}

fn rank(state: &str) -> u8 {
    match state {
        "failed" => 0,
        "unknown" => 1,
        "stale" => 2,
        "late" => 3,
        _ => 4,
    }
}

/// The summary of `health` at `now`.
pub fn summarise(catalog: &Catalog, health: &Health, now: DateTime<Utc>) -> Summary {
    let budgets = catalog.eco().budgets();
    let order = [
        Freshness::Fresh,
        Freshness::Late,
        Freshness::Stale,
        Freshness::Never,
        Freshness::Unknown,
    ];
    let mut counts = [0usize; 5];
    let mut problems = Vec::new();
    for p in catalog.eco().platforms() {
        for s in catalog.streams(&p.model.name) {
            if let Ok(view) = health.stream(s)
                && let Some((b, error)) = view.failure()
            {
                problems.push(Problem {
                    state: "failed",
                    label: s.key.clone(),
                    path: format!("stores/{}", s.store),
                    platform: s.platform.clone(),
                    detail: format!("batch {} failed: {}", b.batch_id, first_line(error)),
                });
            }
            for ds in &s.datasets {
                let budget = budgets.dataset(&s.store, ds);
                let (state, age) = health.freshness(s, budget, now);
                let i = order.iter().position(|o| *o == state).unwrap_or(4);
                counts[i] += 1;
                if state == Freshness::Fresh {
                    continue;
                }
                let detail = match age {
                    Some(age) => format!(
                        "last committed {} ago; budget {}",
                        format_duration(Duration::from_secs(age.as_secs())),
                        format_duration(budget)
                    ),
                    None if state == Freshness::Never => "no batch has committed yet".into(),
                    None => "the merge database could not be read".into(),
                };
                problems.push(Problem {
                    state: state.as_str(),
                    label: format!("{}.{ds}", s.store),
                    path: dataset_path(&s.store, ds),
                    platform: s.platform.clone(),
                    detail,
                });
            }
        }
    }
    problems.sort_by_key(|p| rank(p.state));
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    problems.truncate(MAX_PROBLEMS);
    Summary {
        counts: order.iter().map(|o| o.as_str()).zip(counts).collect(),
        problems,
        more,
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
