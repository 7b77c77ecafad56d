//! The runtime binary against real PostgreSQL: its output, one runner per stream, and
//! batches that survive being killed at any moment.

mod common;

use common::*;
use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::naming;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

struct Env {
    server: ThrowawayPostgres,
    source: String,
}

impl Env {
    async fn new(rows: i64) -> Env {
        let server = ThrowawayPostgres::start().expect("throwaway PostgreSQL");
        let env = Env {
            server,
            source: "customer_db".into(),
        };
        let admin = env.connect("postgres").await;
        admin
            .batch_execute("CREATE DATABASE customer_db")
            .await
            .expect("source db");
        let source = env.connect("customer_db").await;
        source
            .batch_execute(&mvp::source_ddl())
            .await
            .expect("source tables");
        source
            .execute(
                "INSERT INTO customers SELECT 'C' || i, 'first' || i, 'last' || i, date '1960-01-01' + (i % 15000)::integer, \
                 'c' || i || '@example.com', NULL, 'A' || i, 'A' || i FROM generate_series(1, $1::bigint) AS i",
                &[&rows],
            )
            .await
            .expect("seed customers");
        source
            .execute(
                "INSERT INTO addresses SELECT 'A' || i, 'C' || i, i || ' Main St', 'Springfield', 'IL', '6270' || (i % 10) \
                 FROM generate_series(1, $1::bigint) AS i",
                &[&rows],
            )
            .await
            .expect("seed addresses");
        env
    }

    async fn connect(&self, db: &str) -> Client {
        self.server.connect(db).await.expect("connect")
    }

    async fn create_merge_db(&self, name: &str) {
        self.connect("postgres")
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("merge db");
    }

    /// The mvp binary, pointed at this server with the merge database `merge`.
    fn mvp(&self, merge: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
        c.args(args)
            .env("DATASURFACE_DB_CUSTOMERDB", self.server.url(&self.source))
            .env("DATASURFACE_DB_MERGEDB", self.server.url(merge))
            .env("postgres_USER", "postgres")
            .env("postgres_PASSWORD", "not-a-real-password-1234")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, merge: &str, platform: &str) -> Output {
        self.mvp(merge, &["run", "--platform", platform, "--store", "Store1"])
            .output()
            .expect("run mvp")
    }
}

async fn change_source(env: &Env, step: i64) {
    let source = env.connect(&env.source).await;
    source
        .execute(
            "UPDATE customers SET email = 'changed' || $1::bigint || '@example.com' \
             WHERE (CASE WHEN id LIKE 'C%' THEN substr(id, 2)::bigint END % 200) = $1::bigint",
            &[&step],
        )
        .await
        .expect("update");
    source
        .execute(
            "UPDATE addresses SET zipcode = '9' || $1::bigint WHERE (substr(id, 2)::bigint % 400) = $1::bigint",
            &[&step],
        )
        .await
        .expect("update addresses");
    source
        .execute(
            "DELETE FROM addresses WHERE (substr(id, 2)::bigint % 800) = $1::bigint + 100",
            &[&step],
        )
        .await
        .expect("delete");
    source
        .execute(
            "INSERT INTO customers SELECT 'N' || $1::bigint || '_' || i, 'new', 'customer', date '2000-01-01', NULL, NULL, NULL, NULL \
             FROM generate_series(1, 250) AS i",
            &[&step],
        )
        .await
        .expect("insert");
}

/// Everything a batch leaves behind that must not depend on crashes.
async fn fingerprint(env: &Env, merge: &str) -> Vec<String> {
    let client = env.connect(merge).await;
    common::fingerprint(
        &client,
        "Store1",
        &[
            ("YellowLive", "customers", "id"),
            ("YellowLive", "addresses", "id"),
            ("YellowForensic", "customers", "id, ds_surf_batch_in"),
            ("YellowForensic", "addresses", "id, ds_surf_batch_in"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_the_batch_summary_and_the_result_code() {
    let env = Env::new(100).await;
    env.create_merge_db("merge").await;
    let out = env.run("merge", "YellowLive");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{all}");
    assert!(
        lines[0].starts_with(
            "YellowLive Store1: batch 1 committed: 200 inserted, 0 updated, 0 deleted, 200 rows in "
        ),
        "{all}"
    );
    assert_eq!(lines[1], "DATASURFACE_RESULT_CODE=0");
    assert!(!all.contains("not-a-real-password"), "{all}");

    // A store the model does not have.
    let out = env
        .mvp(
            "merge",
            &["run", "--platform", "YellowLive", "--store", "Store2"],
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("DATASURFACE_RESULT_CODE=-1\n"));
    assert!(
        text(&out)
            .contains("Could not find datastore in ecosystem: `Store2`; did you mean `Store1`?"),
        "{}",
        text(&out)
    );

    // reset-batch of a committed batch, and status.
    let out = env
        .mvp(
            "merge",
            &[
                "reset-batch",
                "--platform",
                "YellowLive",
                "--store",
                "Store1",
            ],
        )
        .output()
        .expect("reset");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ERROR: Batch is COMMITTED and cannot be reset\n"
    );
    let out = env
        .mvp("merge", &["status", "--platform", "YellowLive"])
        .output()
        .expect("status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        table[0],
        [
            "stream", "batch", "status", "started", "seconds", "inserted", "updated", "deleted",
            "rows"
        ]
    );
    assert_eq!(table[1][..3], ["Store1", "1", "committed"]);
    assert_eq!(table[1][6..], ["200", "0", "0", "200"]);
    let out = env
        .mvp("merge", &["status", "--platform", "YellowLive", "--json"])
        .output()
        .expect("status");
    let json: datasurface::serde_json::Value =
        datasurface::serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json[0]["records_inserted"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_of_one_stream_one_works_one_is_busy() {
    let env = Env::new(150_000).await;
    env.create_merge_db("merge").await;
    let merge = env.connect("merge").await;
    let first = env
        .mvp(
            "merge",
            &["run", "--platform", "YellowLive", "--store", "Store1"],
        )
        .spawn()
        .expect("first");
    let deadline = Instant::now() + Duration::from_secs(60);
    while status(&merge, "YellowLive").await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the first runner never started a batch"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = env.run("merge", "YellowLive");
    let first = first.wait_with_output().expect("first runner");
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(second.status.code(), Some(75), "{}", text(&second));
    assert!(
        text(&second).contains(
            "stream Store1 of YellowLive is being run by another process; nothing was done"
        )
    );
    assert!(String::from_utf8_lossy(&second.stdout).ends_with("DATASURFACE_RESULT_CODE=-1\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_batch_and_rewind_of_a_busy_stream_exit_75() {
    let env = Env::new(10).await;
    env.create_merge_db("merge").await;
    let first = env.run("merge", "YellowForensic");
    assert!(first.status.success(), "{}", text(&first));
    // Another runner holds the stream.
    let holder = env.connect("merge").await;
    let id = datasurface::codegen::sql::lock_id("YellowForensic", Some("Store1"));
    let held: bool = holder
        .query_one("SELECT pg_try_advisory_lock($1)", &[&id])
        .await
        .expect("lock")
        .get(0);
    assert!(held);
    for args in [
        &[
            "reset-batch",
            "--platform",
            "YellowForensic",
            "--store",
            "Store1",
        ][..],
        &[
            "reset-batch",
            "--platform",
            "YellowForensic",
            "--store",
            "Store1",
            "--to-batch",
            "0",
        ],
    ] {
        let out = env.mvp("merge", args).output().expect("reset");
        assert_eq!(out.status.code(), Some(75), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(
                "ERROR: stream Store1 of YellowForensic is being run by another process; nothing was done"
            ),
            "{}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_killed_at_any_moment_end_as_if_nothing_happened() {
    let env = Env::new(60_000).await;
    env.create_merge_db("reference").await;
    env.create_merge_db("crashed").await;
    let mut crashed = env.connect("crashed").await;
    let monitor = env.connect("postgres").await;
    let mut rng = Lcg(0x5eed);
    let (mut kills, mut interrupted) = (0, 0);
    for step in 0..4 {
        if step > 0 {
            change_source(&env, step).await;
        }
        for platform in ["YellowLive", "YellowForensic"] {
            let reference = env.run("reference", platform);
            assert!(reference.status.success(), "{}", text(&reference));
            let done = step + 1;
            let args = ["run", "--platform", platform, "--store", "Store1"];

            // Killed while taking the snapshot: after a random delay once it started.
            let child = env.mvp("crashed", &args).spawn().expect("spawn");
            let start = Instant::now();
            while status(&crashed, platform).await.as_deref() != Some("started")
                && committed(&crashed, platform).await < done
                && start.elapsed() < Duration::from_secs(30)
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.next(40))).await;
            kill(child);
            kills += 1;
            if committed(&crashed, platform).await < done {
                interrupted += 1;
            }

            // Killed while writing the merge tables: another session holds them so that
            // reads go on and writes wait, and the kill comes once the runner waits.
            kills += 1;
            if committed(&crashed, platform).await < done {
                let tables = ["customers", "addresses"]
                    .map(|d| naming::merge_table(platform, "Store1", d))
                    .join(", ");
                kill_while_held(
                    &mut crashed,
                    &monitor,
                    "crashed",
                    (&tables, "EXCLUSIVE"),
                    || env.mvp("crashed", &args).spawn().expect("spawn"),
                )
                .await;
                interrupted += 1;
            }

            // The killed runner's server session holds the stream's lock until the server
            // notices it is gone: retry while busy, as a scheduler would.
            let deadline = Instant::now() + Duration::from_secs(60);
            while committed(&crashed, platform).await < done {
                let out = env.run("crashed", platform);
                assert!(
                    out.status.success() || out.status.code() == Some(75),
                    "{}",
                    text(&out)
                );
                assert!(Instant::now() < deadline, "{}", text(&out));
                if out.status.code() == Some(75) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert_eq!(
            fingerprint(&env, "crashed").await,
            fingerprint(&env, "reference").await,
            "after step {step}"
        );
    }
    assert_eq!(kills, 16);
    // Most kills must land before the batch committed, or the test proves little.
    assert!(
        interrupted >= 12,
        "only {interrupted} of {kills} kills interrupted a batch"
    );
}
