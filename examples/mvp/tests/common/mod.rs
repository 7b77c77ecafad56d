//! What the tests that kill runtime binaries share: a deterministic generator of delays,
//! the batch tables' state, a runner killed while it waits for tables another session
//! holds, and a fingerprint of everything a batch leaves behind.

#![allow(dead_code, unreachable_pub)]

use datasurface::naming;
use std::process::{Child, Output};
use std::time::Duration;
use tokio_postgres::Client;

/// What a binary printed, standard output then standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A small deterministic generator for kill delays.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Committed batches of `platform`.
pub async fn committed(client: &Client, platform: &str) -> i64 {
    client
        .query_one(
            &format!(
                "SELECT count(*) FROM {} WHERE batch_status = 'committed'",
                naming::batch_metrics_table(platform)
            ),
            &[],
        )
        .await
        .map_or(0, |r| r.get(0))
}

/// The status of the last batch of `platform`, once there is one.
pub async fn status(client: &Client, platform: &str) -> Option<String> {
    client
        .query_opt(
            &format!(
                "SELECT batch_status FROM {} ORDER BY batch_id DESC LIMIT 1",
                naming::batch_metrics_table(platform)
            ),
            &[],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
}

/// Whether a runner's session waits for a lock in database `db`.
pub async fn runner_waits_for_a_lock(client: &Client, db: &str) -> bool {
    client
        .query_one(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = $1 \
             AND application_name = 'datasurface' AND wait_event_type = 'Lock'",
            &[&db],
        )
        .await
        .is_ok_and(|r| r.get(0))
}

/// Runs the runner `spawn` starts while another session holds `tables` of database `db`
/// (through `holder`) in `mode`, and kills it once it waits for them; `monitor` watches
/// the server's sessions.
pub async fn kill_while_held(
    holder: &mut Client,
    monitor: &Client,
    db: &str,
    held: (&str, &str),
    spawn: impl FnMut() -> Child,
) {
    while_held(holder, monitor, db, held, spawn, |runner| {
        kill(runner);
        Held::Still
    })
    .await;
}

/// Whether a session still holds the tables after [`while_held`]'s action.
pub enum Held {
    /// The server is up: the holding session releases them.
    Still,
    /// The action stopped the server, which released them.
    Released,
}

/// Runs the runner `spawn` starts while another session holds `tables` of database `db`
/// (through `holder`) in `mode`, and hands it to `then` once it waits for them; the
/// tables are released after, unless `then` says they were.
pub async fn while_held(
    holder: &mut Client,
    monitor: &Client,
    db: &str,
    (tables, mode): (&str, &str),
    mut spawn: impl FnMut() -> Child,
    then: impl FnOnce(Child) -> Held,
) {
    let holder = holder.transaction().await.expect("begin");
    holder
        .batch_execute(&format!("LOCK TABLE {tables} IN {mode} MODE"))
        .await
        .expect("hold the tables");
    let waiting = loop {
        let mut child = spawn();
        // The killed runner's lock may outlive it a moment: busy, try again.
        let exited = loop {
            if runner_waits_for_a_lock(monitor, db).await {
                break None;
            }
            if let Some(code) = child.try_wait().expect("wait") {
                break Some(code);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        match exited {
            None => break child,
            Some(code) if code.code() == Some(75) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Some(code) => panic!("the runner ended while {tables} were held: {code}"),
        }
    };
    if let Held::Still = then(waiting) {
        holder.rollback().await.expect("release");
    }
}

/// Everything batches leave behind that must not depend on crashes: the merge tables of
/// `store` (as md5 of their rows in `order`), given as (platform, dataset, order), and the
/// metrics rows of both platforms.
pub async fn fingerprint(
    client: &Client,
    store: &str,
    tables: &[(&str, &str, &str)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (platform, dataset, order) in tables {
        let table = naming::merge_table(platform, store, dataset);
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {order})) FROM {table} AS t"
                ),
                &[],
            )
            .await
            .expect("table fingerprint");
        out.push(format!(
            "{table}: {} rows, {}",
            row.get::<_, i64>(0),
            row.get::<_, Option<String>>(1).unwrap_or_default()
        ));
    }
    for metrics in ["YellowLive", "YellowForensic"].map(naming::batch_metrics_table) {
        for row in client
            .query(
                &format!(
                    "SELECT key, batch_id, batch_status, records_inserted, records_updated, records_deleted, total_records \
                     FROM {metrics} ORDER BY key, batch_id"
                ),
                &[],
            )
            .await
            .expect("metrics")
        {
            out.push(format!(
                "{metrics}: {} {} {} {:?} {:?} {:?} {:?}",
                row.get::<_, String>(0),
                row.get::<_, i32>(1),
                row.get::<_, String>(2),
                row.get::<_, Option<i64>>(3),
                row.get::<_, Option<i64>>(4),
                row.get::<_, Option<i64>>(5),
                row.get::<_, Option<i64>>(6),
            ));
        }
    }
    out
}
