//! `status`: the recent batches of a platform's streams.

use super::RunError;
use crate::pg::{self, Environment};
use chrono::{DateTime, Utc};
use datasurface_codegen::sql::BatchSql;
use datasurface_model::ValidEcosystem;

/// One batch, as the metrics table records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchRow {
    pub key: String,
    pub batch_id: i32,
    pub batch_start_time: DateTime<Utc>,
    pub batch_end_time: Option<DateTime<Utc>>,
    pub batch_status: String,
    pub records_inserted: Option<i64>,
    pub records_updated: Option<i64>,
    pub records_deleted: Option<i64>,
    pub total_records: Option<i64>,
    pub state: serde_json::Value,
}

/// The last `limit` batches of each stream of `platform`, or of the streams of `store`.
pub async fn history(
    eco: &ValidEcosystem,
    platform: &str,
    store: Option<&str>,
    limit: i64,
    env: &Environment,
) -> Result<Vec<BatchRow>, RunError> {
    let Some(p) = eco.find_platform(platform) else {
        return Err(datasurface_model::StreamError::UnknownPlatform {
            platform: platform.into(),
            suggestion: datasurface_model::suggest(
                platform,
                eco.platforms.iter().map(|p| p.name.as_str()),
            ),
        }
        .into());
    };
    if let Some(store) = store
        && eco.find_datastore(store).is_none()
    {
        return Err(datasurface_model::StreamError::UnknownStore {
            store: store.into(),
            suggestion: datasurface_model::suggest(
                store,
                eco.datastores().map(|s| s.name.as_str()),
            ),
        }
        .into());
    }
    let provider = eco
        .find_provider(&p.provider)
        .expect("validation checked the provider");
    let client = pg::connect(&provider.merge_database, &provider.merge_credential, env).await?;
    let sql = BatchSql::new(platform);
    let exists = "-- Does the platform have batch tables yet?\nSELECT to_regclass($1)::oid::text";
    let table = datasurface_model::naming::quote_ident(&sql.metrics_table);
    let found: Option<String> = client
        .query_one(exists, &[&table])
        .await
        .map_err(|e| RunError::sql(exists, e))?
        .get(0);
    if found.is_none() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(&sql.history, &[&None::<String>, &limit])
        .await
        .map_err(|e| RunError::sql(&sql.history, e))?;
    Ok(rows
        .iter()
        .map(|r| BatchRow {
            key: r.get(0),
            batch_id: r.get(1),
            batch_start_time: r.get(2),
            batch_end_time: r.get(3),
            batch_status: r.get(4),
            records_inserted: r.get(5),
            records_updated: r.get(6),
            records_deleted: r.get(7),
            total_records: r.get(8),
            state: r.get(9),
        })
        .filter(|b| store.is_none_or(|s| b.key == s || b.key.starts_with(&format!("{s}#"))))
        .collect())
}

/// Writes batches as a table: one line per batch with status, start, duration and metrics.
pub fn write_table(
    platform: &str,
    rows: &[BatchRow],
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
                    format!(
                        "{:.1}",
                        (end - b.batch_start_time).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_else(|| "-".into());
            [
                b.key.clone(),
                b.batch_id.to_string(),
                b.batch_status.clone(),
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
    Ok(())
}
