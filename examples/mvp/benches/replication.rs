//! What a batch of a store captured by logical replication costs, next to the same batch of
//! a store captured by snapshot over the same source table, and to a plain binary COPY of the
//! table between the two databases (the floor), measured in the same run on two durable
//! servers (fsync, full page writes and synchronous commit on), the source's and the merge
//! database's, as a producer's database and a platform's are: the first load, a 1% change
//! batch, two batches that change nothing back to back and one after the server's
//! autovacuum ran (as it does between batches minutes apart), and the peak memory of a
//! batch of a million changes.
//!
//! `cargo bench -p mvp --bench replication` (set `ROWS` for another size; 1,000,000 unless
//! set; set `LOG_STATEMENTS` to log every statement's duration, and the plan of those over a
//! tenth of a second, in the servers' logs, kept with `KEEP`;
//! `MERGE_SETTINGS=shared_buffers=2GB;…` sets the merge server's settings, then restarts it).
//! The batches run in this process, through the engine a binary runs.

use bytes::Bytes;
use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::engine::{Engine, RunOptions};
use datasurface::pg::Environment;
use datasurface::*;
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use std::time::Instant;
use tokio_postgres::Client;

const DDL: &str = "CREATE TABLE events (id bigint PRIMARY KEY, account varchar(20) NOT NULL, \
     amount numeric(12,2) NOT NULL, at timestamptz NOT NULL, note text)";

fn events() -> DatasetSchema {
    DatasetSchema::new("events")
        .column(Column::new("id", DataType::BigInt))
        .column(Column::new("account", DataType::Varchar(20)))
        .column(Column::new("amount", DataType::Numeric(Some((12, 2)))))
        .column(Column::new("at", DataType::TimestampTz))
        .column(Column::nullable("note", DataType::Text))
        .key(["id"])
        .classified(Classification::Internal)
}

/// Two stores over one source table: `Snap` by snapshot, `Repl` by logical replication, each
/// on a live and a forensic platform.
fn model(source: &ThrowawayPostgres, merge: &ThrowawayPostgres) -> ValidEcosystem {
    let src = PostgresDatabase::new("SourceDB", "src").at("127.0.0.1", source.port());
    let credential = Credential::user_password("src");
    let snap = Datastore::new("Snap")
        .capture(SqlSnapshot::new(
            src.clone(),
            credential.clone(),
            "*/5 * * * *",
        ))
        .dataset_schema(events());
    let repl = Datastore::new("Repl")
        .capture(LogicalReplication::new(src, credential, "*/5 * * * *"))
        .dataset_schema(events());
    let live = DatasetGroup::new("Live", Retention::LiveOnly)
        .sink_named("Snap", "events")
        .sink_named("Repl", "events");
    let forensic = DatasetGroup::new("History", Retention::Forensic)
        .sink_named("Snap", "events")
        .sink_named("Repl", "events");
    let merge_db = PostgresDatabase::new("MergeDB", "merge").at("127.0.0.1", merge.port());
    let provider =
        YellowServiceProvider::new("Bench", "bench", merge_db, Credential::user_password("src"));
    Ecosystem::new("Bench")
        .zone(
            GovernanceZone::new("Z").team(
                Team::new("t")
                    .datastore(snap)
                    .datastore(repl)
                    .workspace(Workspace::new("W").dsg(live).dsg(forensic)),
            ),
        )
        .platform(YellowPlatform::live("YellowLive", &provider))
        .platform(YellowPlatform::forensic("YellowForensic", &provider))
        .provider(provider)
        .assign(Assignment::new("W", "Live", "YellowLive"))
        .assign(Assignment::new("W", "History", "YellowForensic"))
        .validate()
        .expect("valid bench model")
}

/// A plain binary COPY of `events` from the source into a fresh unlogged, unindexed table.
async fn copy_floor(source: &Client, merge: &Client) -> f64 {
    merge
        .batch_execute(
            "DROP TABLE IF EXISTS copy_floor; CREATE UNLOGGED TABLE copy_floor (id bigint, \
             account varchar(20), amount numeric(12,2), at timestamptz, note text)",
        )
        .await
        .expect("floor table");
    let start = Instant::now();
    let rows = source
        .copy_out("COPY (SELECT * FROM events) TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out");
    let sink = merge
        .copy_in::<_, Bytes>("COPY copy_floor FROM STDIN (FORMAT binary)")
        .await
        .expect("copy in");
    pin_mut!(rows);
    pin_mut!(sink);
    while let Some(chunk) = rows.try_next().await.expect("read") {
        sink.as_mut().feed(chunk).await.expect("write");
    }
    sink.as_mut().finish().await.expect("finish");
    start.elapsed().as_secs_f64()
}

/// How many times the server's autovacuum has vacuumed each merge table of the snapshot
/// store.
async fn autovacuums(merge: &Client) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "yellowlive_snap_events_merge",
        "yellowforensic_snap_events_merge",
    ] {
        let row = merge
            .query_one(
                "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = $1",
                &[&table],
            )
            .await
            .expect("autovacuum count");
        counts.push(row.get(0));
    }
    counts
}

/// The peak resident memory of this process since the last reset, in MiB; resets it.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    kib / 1024.0
}

async fn batch(eco: &ValidEcosystem, env: &Environment, platform: &str, store: &str) -> f64 {
    let stream = eco.stream(platform, store, None).expect("stream");
    let start = Instant::now();
    let outcome = Engine::new(eco, env)
        .run(
            &stream,
            &RunOptions {
                max_delete_percent: Some(100),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{store} on {platform}: {e}"));
    let m = outcome.metrics;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "    {store:>4} {platform:<14} {seconds:>7.2} s   {:>8} new {:>8} changed {:>8} gone {:>9} rows   \
         (read and diff {:.2} s, merge {:.2} s)",
        m.inserted,
        m.updated,
        m.deleted,
        m.total,
        outcome.ingest.as_secs_f64(),
        outcome.merge.as_secs_f64()
    );
    seconds
}

/// How much WAL the server of `client` has written, in bytes.
async fn wal_bytes(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
            &[],
        )
        .await
        .expect("the WAL position")
        .get(0)
}

/// Every batch of one phase, with its ratio to the floor measured just before.
async fn phase(
    name: &str,
    eco: &ValidEcosystem,
    env: &Environment,
    source: &Client,
    merge: &Client,
) {
    let floor = copy_floor(source, merge).await;
    println!("{name} (floor: binary COPY {floor:.2} s)");
    for platform in ["YellowLive", "YellowForensic"] {
        for store in ["Snap", "Repl"] {
            let before = wal_bytes(merge).await;
            let seconds = batch(eco, env, platform, store).await;
            let wal = (wal_bytes(merge).await - before) as f64 / 1_048_576.0;
            println!(
                "           ratio to the floor {:>6.3}×, {wal:.1} MiB of WAL on the merge server",
                seconds / floor
            );
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rows: i64 = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let source_server = ThrowawayPostgres::start_durable().expect("PostgreSQL");
    let merge_server = ThrowawayPostgres::start_durable().expect("PostgreSQL");
    for (server, db) in [(&source_server, "src"), (&merge_server, "merge")] {
        let admin = server.connect("postgres").await.expect("connect");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("database");
    }
    if std::env::var_os("LOG_STATEMENTS").is_some() {
        for server in [&source_server, &merge_server] {
            server.log_statements().await.expect("log statements");
            println!("statements logged in {}", server.dir().display());
        }
    }
    if let Ok(settings) = std::env::var("MERGE_SETTINGS") {
        // Server settings of the merge database to compare (`wal_compression=lz4;…`).
        let admin = merge_server.connect("postgres").await.expect("connect");
        for setting in settings.split(';').filter(|s| !s.trim().is_empty()) {
            let (name, value) = setting
                .split_once('=')
                .expect("MERGE_SETTINGS: name=value;…");
            admin
                .batch_execute(&format!(
                    "ALTER SYSTEM SET {} = '{}'",
                    name.trim(),
                    value.trim().replace('\'', "''")
                ))
                .await
                .expect("a merge server setting");
        }
        drop(admin);
        // A restart, for the settings that need one (`shared_buffers`, `wal_buffers`).
        merge_server.restart().expect("restart the merge server");
        println!("merge server: {settings}");
    }
    let source = source_server.connect("src").await.expect("source");
    let merge = merge_server.connect("merge").await.expect("merge");
    source.batch_execute(DDL).await.expect("table");
    source
        .batch_execute(&format!(
            "INSERT INTO events SELECT i, 'acct-' || (i % 997), (i % 100000) / 100.0, \
             '2026-01-01'::timestamptz + i * interval '1 second', CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END \
             FROM generate_series(1, {rows}) AS i"
        ))
        .await
        .expect("rows");
    source
        .batch_execute("VACUUM ANALYZE events")
        .await
        .expect("vacuum");
    let eco = model(&source_server, &merge_server);
    let env = Environment::new().set("src_USER", "postgres");
    println!("{rows} rows, durable source and merge servers\n");

    phase("first load", &eco, &env, &source, &merge).await;

    let hundredth = rows / 100;
    source
        .batch_execute(&format!(
            "UPDATE events SET amount = amount + 1 WHERE id % 200 = 0; \
             DELETE FROM events WHERE id % 400 = 1; \
             INSERT INTO events SELECT {rows} + i, 'new', 1, now(), NULL FROM generate_series(1, {}) AS i",
            hundredth / 4
        ))
        .await
        .expect("1% change");
    let vacuums = autovacuums(&merge).await;
    phase("1% of rows changed", &eco, &env, &source, &merge).await;
    phase("nothing changed", &eco, &env, &source, &merge).await;
    phase("nothing changed again", &eco, &env, &source, &merge).await;
    // Scheduled batches are minutes apart: the server's autovacuum gets to the merge tables
    // of the snapshot store (the ones a whole diff reads) in between.
    let waited = Instant::now();
    while autovacuums(&merge)
        .await
        .iter()
        .zip(&vacuums)
        .any(|(now, then)| now <= then)
    {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    println!(
        "\n(the server's autovacuum ran on the snapshot store's merge tables {:.0} s later)",
        waited.elapsed().as_secs_f64()
    );
    phase(
        "nothing changed, batches minutes apart",
        &eco,
        &env,
        &source,
        &merge,
    )
    .await;

    // A million changes in one batch (every row, below a million rows).
    let changed = rows.min(1_000_000);
    source
        .batch_execute(&format!(
            "UPDATE events SET account = account || '+' WHERE id <= {changed}"
        ))
        .await
        .expect("a million rows changed");
    peak_mib();
    let seconds = batch(&eco, &env, "YellowLive", "Repl").await;
    println!(
        "\n{changed} changes read from the slot: {seconds:.2} s, peak memory of this process {:.0} MiB",
        peak_mib()
    );
    if std::env::var_os("KEEP").is_some() {
        for server in [source_server, merge_server] {
            println!("kept: {}", server.keep());
        }
    }
}
