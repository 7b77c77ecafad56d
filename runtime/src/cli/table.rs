//! Batch history as a table for a person: one line per batch with its status, start,
//! duration and metrics, then why an open batch's last run failed.

use crate::engine::{BatchRecord, Seconds};

/// Writes batches as a table: one line per batch with status, start, duration and metrics.
pub(super) fn write_table(
    platform: &str,
    rows: &[BatchRecord],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "{platform} has run no batch yet");
    }
    let opt = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let header = [
        "stream", "batch", "status", "started", "seconds", "inserted", "updated", "deleted", "rows",
    ];
    let table: Vec<[String; 9]> = rows
        .iter()
        .map(|b| {
            let seconds = b
                .batch_end_time
                .map(|end| {
                    let took = (end - b.batch_start_time).to_std().unwrap_or_default();
                    Seconds(took).to_string()
                })
                .unwrap_or_else(|| "-".into());
            [
                b.key.clone(),
                b.batch_id.to_string(),
                b.batch_status.to_string(),
                b.batch_start_time.format("%Y-%m-%d %H:%M:%S").to_string(),
                seconds,
                opt(b.records_inserted),
                opt(b.records_updated),
                opt(b.records_deleted),
                opt(b.total_records),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 4 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&header.map(String::from)).trim_end())?;
    for row in &table {
        writeln!(out, "{}", line(row).trim_end())?;
    }
    for b in rows.iter().filter(|b| b.batch_status.is_open()) {
        if let Some(error) = &b.state.last_error {
            writeln!(
                out,
                "{} batch {} ({}): the last run failed: {error}",
                b.key, b.batch_id, b.batch_status
            )?;
        }
    }
    Ok(())
}
