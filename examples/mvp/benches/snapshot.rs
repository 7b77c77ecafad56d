//! What a snapshot batch costs: 1,000,000 `customers` rows, live and forensic — the
//! initial load, a 1% change batch and a no-change batch — next to a plain binary COPY of
//! the same rows between the same two databases, measured in the same run.
//!
//! `cargo bench -p mvp --bench snapshot` (set `ROWS` for another size, `SOURCE_LOCALE` for the
//! source database's collation, e.g. `C.UTF-8`, where the server's is `C`, and
//! `SOURCE_KEY_INDEX` for an index on the key in byte order). The batches run the
//! real `mvp` binary; its peak memory is read from /proc while it runs, and what each batch
//! writes to the merge database is read from the server: WAL bytes, and how much the
//! platform's tables grew; and what it cost the source: the temporary files its sorts wrote.
//! `RUNS=5` repeats the whole sequence on new databases and prints the medians.
//! `DURABLE` runs a server that keeps what commits on disk (fsync, full page writes and
//! synchronous commit on), as users run PostgreSQL; `LOG_STATEMENTS` logs every statement's
//! duration in the server's log, kept with `KEEP`.

use bytes::Bytes;
use datasurface::dev::postgres::ThrowawayPostgres;
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

async fn connect(server: &ThrowawayPostgres, db: &str) -> Client {
    server.connect(db).await.expect("connect")
}

/// A plain binary COPY of `customers` from the source into a fresh unindexed table.
async fn copy_floor(source: &Client, merge: &Client, unlogged: bool) -> f64 {
    let kind = if unlogged { "UNLOGGED " } else { "" };
    merge
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS copy_floor; CREATE {kind}TABLE copy_floor (id varchar(20) NOT NULL, \
             firstname varchar(100) NOT NULL, lastname varchar(100) NOT NULL, dob date NOT NULL, email varchar(100), \
             phone varchar(100), primaryaddressid varchar(20), billingaddressid varchar(20))"
        ))
        .await
        .expect("floor table");
    let start = Instant::now();
    let rows = source
        .copy_out("COPY (SELECT * FROM customers) TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out");
    let sink = merge
        .copy_in::<_, Bytes>(
            "COPY copy_floor (id, firstname, lastname, dob, email, phone, primaryaddressid, billingaddressid) \
             FROM STDIN (FORMAT binary)",
        )
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

/// The WAL position of the server, and the size of `platform`'s tables in the merge
/// database (bytes).
async fn written(merge: &Client, platform: &str) -> (String, i64) {
    let row = merge
        .query_one(
            "SELECT pg_current_wal_lsn()::text, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
             FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE $1",
            &[&format!("{}\\_%", platform.to_lowercase())],
        )
        .await
        .expect("written");
    (row.get(0), row.get(1))
}

/// WAL bytes between two positions.
async fn wal_between(merge: &Client, from: &str, to: &str) -> i64 {
    merge
        .query_one(
            "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::bigint",
            &[&to, &from],
        )
        .await
        .expect("wal")
        .get(0)
}

/// The bytes of temporary files (sorts that spilled) the source database's sessions wrote,
/// once every other session has ended: a session's statistics reach the server as it exits.
async fn source_temp_bytes(source: &Client) -> i64 {
    loop {
        let others: i64 = source
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("sessions")
            .get(0);
        if others == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    source
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .expect("fresh statistics");
    source
        .query_one(
            "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .expect("temp bytes")
        .get(0)
}

/// One measured batch.
struct Measured {
    what: String,
    seconds: f64,
    peak_mib: f64,
    wal_mib: f64,
    growth_mib: f64,
    source_temp_mib: f64,
    summary: String,
}

/// Runs one batch with the mvp binary and measures it.
async fn measured(
    server: &ThrowawayPostgres,
    (source, merge): (&Client, &Client),
    platform: &str,
    what: String,
) -> Measured {
    let before = written(merge, platform).await;
    let temp_before = source_temp_bytes(source).await;
    let (seconds, peak_mib, summary) = batch(server, platform);
    let after = written(merge, platform).await;
    let temp_after = source_temp_bytes(source).await;
    let mib = |b: i64| b as f64 / 1024.0 / 1024.0;
    Measured {
        what,
        seconds,
        peak_mib,
        wal_mib: mib(wal_between(merge, &before.0, &after.0).await),
        growth_mib: mib(after.1 - before.1),
        source_temp_mib: mib(temp_after - temp_before),
        summary,
    }
}

/// Runs one batch with the mvp binary; returns (seconds, peak resident MiB, summary line).
fn batch(server: &ThrowawayPostgres, platform: &str) -> (f64, f64, String) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args([
            "run",
            "--platform",
            platform,
            "--store",
            "Store1",
            "--max-delete-percent",
            "100",
        ])
        .env("DATASURFACE_DB_CUSTOMERDB", server.url("customer_db"))
        .env("DATASURFACE_DB_MERGEDB", server.url("datasurface_merge"))
        .env("postgres_USER", "postgres")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mvp");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0_u64;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = start.elapsed().as_secs_f64();
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout.lines().next().unwrap_or("").to_owned();
    (seconds, peak_kib as f64 / 1024.0, summary)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// How the source is set up: its size, its database's collation, and whether its key has
/// an index in byte order.
struct Setup {
    rows: i64,
    locale: Option<String>,
    key_index: bool,
}

/// One run's floors (logged, unlogged) and batches.
struct Run {
    floor: f64,
    floor_unlogged: f64,
    batches: Vec<Measured>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let setup = Setup {
        rows: std::env::var("ROWS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1_000_000),
        // The source database's collation: the server's `C` unless set (most producers'
        // databases sort text by a locale, which a key-ordered read pays for with a sort).
        locale: std::env::var("SOURCE_LOCALE").ok(),
        // An index on the key in byte order, which spares such a source the sort.
        key_index: std::env::var_os("SOURCE_KEY_INDEX").is_some(),
    };
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .max(1);
    let durable = std::env::var_os("DURABLE").is_some();
    let server = match durable {
        true => ThrowawayPostgres::start_durable(),
        false => ThrowawayPostgres::start(),
    }
    .expect("throwaway PostgreSQL");
    if std::env::var_os("LOG_STATEMENTS").is_some() {
        server.log_statements().await.expect("log statements");
        println!("statements logged in {}", server.dir().display());
    }
    println!(
        "{} customers rows; PostgreSQL 15 {} server, source and merge databases on it; \
         source collation {}{}{}\n",
        setup.rows,
        if durable { "durable" } else { "throwaway" },
        setup.locale.as_deref().unwrap_or("C"),
        if setup.key_index {
            ", an index on the key COLLATE \"C\""
        } else {
            ""
        },
        match runs {
            1 => String::new(),
            n => format!("; medians of {n} runs, each on new databases"),
        }
    );
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(one_run(&server, &setup).await);
    }

    let floors: Vec<f64> = all.iter().map(|r| r.floor).collect();
    let unlogged: Vec<f64> = all.iter().map(|r| r.floor_unlogged).collect();
    let (floor, floor_unlogged) = (median(floors), median(unlogged));
    println!(
        "plain binary COPY source → merge, logged unindexed table:   {floor:6.2} s  ({:.0} rows/s)",
        setup.rows as f64 / floor
    );
    println!(
        "plain binary COPY source → merge, unlogged unindexed table: {floor_unlogged:6.2} s  ({:.0} rows/s)\n",
        setup.rows as f64 / floor_unlogged
    );
    println!(
        "{:<52} {:>8} {:>9} {:>10} {:>10} {:>9} {:>11} {:>16}",
        "batch (whole mvp run process)",
        "seconds",
        "× COPY",
        "× unlogged",
        "peak MiB",
        "WAL MiB",
        "tables +MiB",
        "source temp MiB"
    );
    // Each ratio is the median of the runs' ratios to their own floor; the peak memory is
    // the highest of the runs.
    let last = all.last().expect("a run");
    for (i, m) in last.batches.iter().enumerate() {
        let of = |f: &dyn Fn(&Run) -> f64| median(all.iter().map(f).collect());
        println!(
            "{:<52} {:8.2} {:>9.2} {:>10.2} {:10.1} {:9.1} {:11.1} {:16.1}",
            m.what,
            of(&|r| r.batches[i].seconds),
            of(&|r| r.batches[i].seconds / r.floor),
            of(&|r| r.batches[i].seconds / r.floor_unlogged),
            all.iter()
                .map(|r| r.batches[i].peak_mib)
                .fold(0.0, f64::max),
            of(&|r| r.batches[i].wal_mib),
            of(&|r| r.batches[i].growth_mib),
            of(&|r| r.batches[i].source_temp_mib)
        );
    }
    println!();
    for m in &last.batches {
        println!("{}: {}", m.what, m.summary);
    }
    if std::env::var_os("KEEP").is_some() {
        println!("kept: {}", server.keep());
    }
}

/// Creates the source and merge databases anew, loads the source, and measures the
/// batches and the floor.
async fn one_run(server: &ThrowawayPostgres, setup: &Setup) -> Run {
    let rows = setup.rows;
    let admin = connect(server, "postgres").await;
    let locale = match &setup.locale {
        Some(l) => format!(" TEMPLATE template0 LOCALE '{}'", l.replace('\'', "''")),
        None => String::new(),
    };
    for (db, options) in [("customer_db", locale.as_str()), ("datasurface_merge", "")] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .expect("drop database");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}{options}"))
            .await
            .expect("database");
    }
    let source = connect(server, "customer_db").await;
    let merge = connect(server, "datasurface_merge").await;
    source
        .batch_execute(&mvp::source_ddl())
        .await
        .expect("source tables");
    source
        .execute(
            "INSERT INTO customers SELECT 'C' || i, 'First' || i, 'Last' || (i % 5000), date '1950-01-01' + (i % 20000)::integer, \
             'customer' || i || '@example.com', '+1-555-' || lpad((i % 10000)::text, 4, '0'), 'A' || i, 'A' || i \
             FROM generate_series(1, $1::bigint) AS i",
            &[&rows],
        )
        .await
        .expect("seed");
    if setup.key_index {
        source
            .batch_execute("CREATE INDEX customers_id_bytes ON customers (id COLLATE \"C\")")
            .await
            .expect("index in byte order");
    }
    source
        .batch_execute("VACUUM ANALYZE customers")
        .await
        .expect("vacuum");
    // The seed's log is checkpointed before the first batch, whichever run it is.
    admin.batch_execute("CHECKPOINT").await.expect("checkpoint");

    let mut batches: Vec<Measured> = Vec::new();
    for platform in ["YellowLive", "YellowForensic"] {
        batches.push(
            measured(
                server,
                (&source, &merge),
                platform,
                format!("{platform} initial load"),
            )
            .await,
        );
    }
    // Medians of three: the machine is noisy.
    let mut floors = Vec::new();
    let mut floors_unlogged = Vec::new();
    for _ in 0..3 {
        floors.push(copy_floor(&source, &merge, false).await);
        floors_unlogged.push(copy_floor(&source, &merge, true).await);
    }
    merge
        .batch_execute("DROP TABLE copy_floor")
        .await
        .expect("drop floor");

    // 1%: 0.5% updated, 0.25% deleted, 0.25% inserted.
    let (upd, del) = (rows / 200, rows / 400);
    source
        .execute(
            "UPDATE customers SET email = 'changed' || id || '@example.com' WHERE substr(id, 2)::bigint % 200 = 7",
            &[],
        )
        .await
        .expect("update");
    source
        .execute(
            "DELETE FROM customers WHERE substr(id, 2)::bigint % 400 = 3",
            &[],
        )
        .await
        .expect("delete");
    source
        .execute(
            "INSERT INTO customers SELECT 'N' || i, 'New', 'Customer', date '2000-01-01', NULL, NULL, NULL, NULL \
             FROM generate_series(1, $1::bigint) AS i",
            &[&del],
        )
        .await
        .expect("insert");
    for platform in ["YellowLive", "YellowForensic"] {
        let what = format!("{platform} 1% change ({upd} upd, {del} del, {del} ins)");
        batches.push(measured(server, (&source, &merge), platform, what).await);
    }
    for platform in ["YellowLive", "YellowForensic"] {
        batches.push(
            measured(
                server,
                (&source, &merge),
                platform,
                format!("{platform} no change"),
            )
            .await,
        );
    }
    Run {
        floor: median(floors),
        floor_unlogged: median(floors_unlogged),
        batches,
    }
}
