//! A stream's recent batches as a small bar chart: inserted, updated and deleted per batch,
//! so a volume that dropped or a burst of deletes shows at a glance.

use crate::lineage::xml;
use datasurface_engine::{BatchRecord, BatchStatus};
use std::fmt::Write;

const WIDTH: usize = 240;
const HEIGHT: usize = 48;

/// The chart of the committed batches among `batches` (oldest first), or nothing when none
/// has committed.
pub fn svg(batches: &[BatchRecord]) -> String {
    let done: Vec<&BatchRecord> = batches
        .iter()
        .filter(|b| b.batch_status == BatchStatus::Committed)
        .collect();
    if done.is_empty() {
        return String::new();
    }
    let counts: Vec<[i64; 3]> = done
        .iter()
        .map(|b| {
            [
                b.records_inserted.unwrap_or(0),
                b.records_updated.unwrap_or(0),
                b.records_deleted.unwrap_or(0),
            ]
        })
        .collect();
    let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / done.len().max(1);
    let bar = (slot / 3).max(1);
    let mut out = format!(
        r#"<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="inserted, updated and deleted per batch">"#
    );
    for (i, (b, c)) in done.iter().zip(&counts).enumerate() {
        for (k, (n, class)) in c.iter().zip(["ins", "upd", "del"]).enumerate() {
            let h = ((*n as f64 / max) * (HEIGHT - 2) as f64).round() as usize;
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{}" y="{}" width="{bar}" height="{h}"><title>{}</title></rect>"#,
                i * slot + k * bar,
                HEIGHT - h,
                xml(&format!("batch {}: {n} {class}", b.batch_id))
            );
        }
    }
    out.push_str("</svg>");
    out
}
