//! The shop's runtime binary, whose store is captured by logical replication, killed at
//! random moments of its batches: each stream ends exactly as on a server where nothing was
//! killed — the same merge tables and the same metrics, batch by batch — so every change is
//! applied once, neither lost nor counted twice. Two servers get the same source changes:
//! on one the batches run undisturbed, on the other they are killed and run again, as a
//! scheduler would. Besides kills at random moments, some land where they must: while the
//! batch stages the changes it read (another session holds the staging tables), while it
//! writes the merge tables, and between its commit and its slot being moved on (the slot
//! is put back where it was, as if the runner died in that moment). And the server stopped
//! at once at random moments of the batches, then started again: the unlogged changes and
//! staging tables come back empty, the slot as it was last saved, and each stream still
//! ends as on the server where nothing happened.

mod common;

use common::*;
use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::naming;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

const PLATFORMS: [&str; 2] = ["YellowLive", "YellowForensic"];

const SOURCE_DDL: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id varchar(20) NOT NULL, \
     placed_at timestamptz NOT NULL, status varchar(20) NOT NULL, note text); \
     ALTER TABLE orders ALTER COLUMN note SET STORAGE EXTERNAL; \
     CREATE TABLE order_lines (order_id bigint, line integer, sku varchar(40) NOT NULL, \
     quantity integer NOT NULL, price numeric(12,2) NOT NULL, PRIMARY KEY (order_id, line))";

/// A server with the shop's source database and a merge database.
struct Shop {
    server: ThrowawayPostgres,
}

impl Shop {
    async fn new(orders: i64) -> Shop {
        Shop::on(ThrowawayPostgres::start(), orders).await
    }

    /// On a server that keeps what commits on disk, as users run PostgreSQL: one that may
    /// be stopped at once without losing a commit it acknowledged.
    async fn durable(orders: i64) -> Shop {
        Shop::on(ThrowawayPostgres::start_durable(), orders).await
    }

    async fn on(
        server: Result<ThrowawayPostgres, datasurface::dev::postgres::ThrowawayPostgresError>,
        orders: i64,
    ) -> Shop {
        let shop = Shop {
            server: server.expect("throwaway PostgreSQL"),
        };
        let admin = shop.connect("postgres").await;
        for db in ["shop_db", "merge"] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("database");
        }
        let source = shop.connect("shop_db").await;
        source.batch_execute(SOURCE_DDL).await.expect("tables");
        source
            .execute(
                "INSERT INTO orders SELECT i, 'C' || (i % 977), timestamptz '2026-01-01' + i * interval '1 minute', \
                 'placed', CASE WHEN i % 50 = 0 THEN repeat('long note ' || i, 400) END \
                 FROM generate_series(1, $1::bigint) AS i",
                &[&orders],
            )
            .await
            .expect("orders");
        source
            .execute(
                "INSERT INTO order_lines SELECT i, l, 'SKU-' || (i * l % 4001), l, (i % 1000) / 10.0 \
                 FROM generate_series(1, $1::bigint) AS i, generate_series(1, 2) AS l",
                &[&orders],
            )
            .await
            .expect("order lines");
        shop
    }

    async fn connect(&self, db: &str) -> Client {
        self.server.connect(db).await.expect("connect")
    }

    /// The shop binary, pointed at this server.
    fn shop(&self, platform: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shop"));
        c.args(["run", "--platform", platform, "--store", "Orders"])
            .env("DATASURFACE_DB_SHOPDB", self.server.url("shop_db"))
            .env("DATASURFACE_DB_MERGEDB", self.server.url("merge"))
            .env("shop_replication_USER", "postgres")
            .env("merge_USER", "postgres")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, platform: &str) -> Output {
        self.shop(platform).output().expect("run shop")
    }

    /// Runs a batch of `platform` that must succeed; how long the whole run took, start-up
    /// included (ms).
    fn timed_run(&self, platform: &str) -> u64 {
        let start = Instant::now();
        let out = self.run(platform);
        assert!(out.status.success(), "{}", text(&out));
        start.elapsed().as_millis() as u64
    }

    /// Starts a batch of `platform` and returns its runner once the batch started (or
    /// batch `done` committed), then `delay_ms` later.
    async fn started(&self, merge: &Client, platform: &str, done: i64, delay_ms: u64) -> Child {
        let child = self.shop(platform).spawn().expect("spawn");
        let start = Instant::now();
        while status(merge, platform).await.as_deref() != Some("started")
            && committed(merge, platform).await < done
            && start.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child
    }

    /// Runs a batch of `platform` until one commits, as a scheduler retries a busy or
    /// failed run.
    async fn run_until_committed(&self, merge: &Client, platform: &str, done: i64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while committed(merge, platform).await < done {
            let out = self.run(platform);
            assert!(
                out.status.success() || out.status.code() == Some(75),
                "{}",
                text(&out)
            );
            assert!(Instant::now() < deadline, "{}", text(&out));
            if out.status.code() == Some(75) {
                // The killed runner's session still holds the stream's lock.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Runs a batch of `platform` while another session holds `tables` in `mode`, and
    /// kills it once it waits for them.
    async fn kill_while_held(&self, tables: &str, mode: &str, platform: &str) {
        let mut holder = self.connect("merge").await;
        let monitor = self.connect("postgres").await;
        kill_while_held(&mut holder, &monitor, "merge", (tables, mode), || {
            self.shop(platform).spawn().expect("spawn")
        })
        .await;
    }

    /// Runs a batch of `platform` while another session holds its merge tables, and stops
    /// the server at once when the runner waits for them: its changes are read and staged
    /// (or, on a first load, being written), and the server comes back with the unlogged
    /// tables empty.
    async fn stop_while_merging(&self, platform: &str) {
        let tables = ["orders", "order_lines"]
            .map(|d| naming::quote_ident(&naming::merge_table(platform, "Orders", d)))
            .join(", ");
        let mut holder = self.connect("merge").await;
        let monitor = self.connect("postgres").await;
        while_held(
            &mut holder,
            &monitor,
            "merge",
            (&tables, "EXCLUSIVE"),
            || self.shop(platform).spawn().expect("spawn"),
            |runner| {
                self.server.restart().expect("stop at once and start again");
                runner.wait_with_output().expect("the stopped run");
                Held::Released
            },
        )
        .await;
    }

    /// The same changes on every server: updates that leave the long notes unsent,
    /// updates of them, deletes, inserts, an order's key moved, and a line's.
    async fn change(&self, step: i64) {
        self.connect("shop_db")
            .await
            .batch_execute(&format!(
                "UPDATE orders SET status = 'step {step}' WHERE id % 97 = {step}; \
                 UPDATE orders SET note = 'rewritten ' || id WHERE id % 491 = {step}; \
                 DELETE FROM order_lines WHERE order_id % 211 = {step}; \
                 DELETE FROM orders WHERE id % 503 = {step}; \
                 INSERT INTO orders SELECT 1000000 * {step} + i, 'new', timestamptz '2026-06-01', 'placed', NULL \
                   FROM generate_series(1, 150) AS i; \
                 UPDATE order_lines SET quantity = quantity + 1, price = price * 2 WHERE (order_id + line) % 157 = {step}; \
                 UPDATE orders SET id = -id WHERE id = 40 + {step}; \
                 UPDATE order_lines SET line = line + 10 WHERE order_id = 60 + {step} AND line = 1"
            ))
            .await
            .expect("source changes");
    }
}

/// Everything the batches leave behind that must not depend on crashes (not the log
/// positions, which are each server's own).
async fn fingerprint(merge: &Client) -> Vec<String> {
    common::fingerprint(
        merge,
        "Orders",
        &[
            ("YellowLive", "orders", "id"),
            ("YellowLive", "order_lines", "order_id, line"),
            ("YellowForensic", "orders", "id, ds_surf_batch_in"),
            (
                "YellowForensic",
                "order_lines",
                "order_id, line, ds_surf_batch_in",
            ),
        ],
    )
    .await
}

/// Step `step`'s changes on every server (none before the first batch).
async fn change_all(step: i64, shops: [&Shop; 2]) {
    if step > 0 {
        for shop in shops {
            shop.change(step).await;
        }
    }
}

/// Checks that the disturbed server's batches left what the undisturbed one's did.
async fn same_tables(disturbed: &Client, reference: &Client, step: i64) {
    assert_eq!(
        fingerprint(disturbed).await,
        fingerprint(reference).await,
        "after step {step}"
    );
}

/// Where the stream's last committed batch says its changes end, and where the slot is.
async fn bound_and_slot(merge: &Client, source: &Client, platform: &str) -> (String, String) {
    let metrics = naming::batch_metrics_table(platform);
    let bound: String = merge
        .query_one(
            &format!(
                "SELECT state::jsonb -> 'capture' ->> 'upper' FROM {metrics} \
                 WHERE batch_status = 'committed' ORDER BY batch_id DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .expect("the last batch's bound")
        .get(0);
    let slot: String = source
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&naming::replication_slot("Shop", platform, "Orders", None)],
        )
        .await
        .expect("the slot")
        .get(0);
    (bound, slot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_batches_killed_at_any_moment_apply_every_change_once() {
    let (reference, crashed) = (Shop::new(20_000).await, Shop::new(20_000).await);
    let (reference_merge, crashed_merge) = (
        reference.connect("merge").await,
        crashed.connect("merge").await,
    );
    let crashed_source = crashed.connect("shop_db").await;
    let mut rng = Lcg(0x5107);
    let (mut random_kills, mut interrupted, mut held_kills) = (0, 0, 0);
    for step in 0..5 {
        change_all(step, [&reference, &crashed]).await;
        for platform in PLATFORMS {
            let took = reference.timed_run(platform);
            let done = step + 1;

            if step == 2 {
                // A crash after the batch committed and before its slot moved on: the slot,
                // copied before the batch, is put back after it. The next batch reads
                // those changes again and must not count them twice.
                let slot = naming::replication_slot("Shop", platform, "Orders", None);
                let saved = format!("{slot}_saved");
                crashed_source
                    .execute(
                        "SELECT pg_copy_logical_replication_slot($1, $2)",
                        &[&slot, &saved],
                    )
                    .await
                    .expect("copy the slot");
                crashed
                    .run_until_committed(&crashed_merge, platform, done)
                    .await;
                let (bound, moved) =
                    bound_and_slot(&crashed_merge, &crashed_source, platform).await;
                assert_eq!(moved, bound, "the slot moves on to the batch's bound");
                crashed_source
                    .batch_execute(&format!(
                        "SELECT pg_drop_replication_slot('{slot}'); \
                         SELECT pg_copy_logical_replication_slot('{saved}', '{slot}'); \
                         SELECT pg_drop_replication_slot('{saved}')"
                    ))
                    .await
                    .expect("put the slot back");
                let (bound, back) = bound_and_slot(&crashed_merge, &crashed_source, platform).await;
                assert_ne!(back, bound, "the slot is behind the committed batch");
                continue;
            }

            // Killed once its batch started, within the first half of what the whole run took
            // on the other server (start-up included), so that most kills land before the
            // commit whatever the machine's load.
            let child = crashed
                .started(&crashed_merge, platform, done, rng.next(took / 2))
                .await;
            kill(child);
            random_kills += 1;
            if committed(&crashed_merge, platform).await < done {
                interrupted += 1;
            }

            // Killed while staging what the changes read (they are loaded, the ingest has
            // not committed), then while writing the merge tables: another session holds
            // the tables so that the runner waits, and the kill comes once it does.
            let tables = |kind: fn(&str, &str, &str) -> String| {
                ["orders", "order_lines"]
                    .map(|d| naming::quote_ident(&kind(platform, "Orders", d)))
                    .join(", ")
            };
            for (held, mode, before) in [
                (tables(naming::staging_table), "SHARE", "started"),
                (tables(naming::merge_table), "EXCLUSIVE", "ingested"),
            ] {
                // A batch already staged goes on to its merge.
                let open = status(&crashed_merge, platform).await;
                let staged = open.as_deref() == Some("ingested");
                // The first load writes the merge tables without staging them.
                let stages = step > 0 && !staged;
                if committed(&crashed_merge, platform).await < done
                    && (before == "ingested" || stages)
                {
                    crashed.kill_while_held(&held, mode, platform).await;
                    held_kills += 1;
                }
            }
            crashed
                .run_until_committed(&crashed_merge, platform, done)
                .await;
        }
        same_tables(&crashed_merge, &reference_merge, step).await;
    }
    // Most random kills must land before the batch committed, or they prove little.
    assert!(
        interrupted >= 4,
        "only {interrupted} of {random_kills} random kills interrupted a batch"
    );
    assert!(held_kills >= 8, "{held_kills} kills while a table was held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_batches_end_exact_after_an_immediate_server_stop_at_any_moment() {
    let (reference, crashed) = (Shop::new(5_000).await, Shop::durable(5_000).await);
    let reference_merge = reference.connect("merge").await;
    let mut rng = Lcg(0x5709);
    let (mut stops, mut interrupted) = (0, 0);
    for step in 0..4 {
        change_all(step, [&reference, &crashed]).await;
        for platform in PLATFORMS {
            let took = reference.timed_run(platform);
            let done = step + 1;

            // Stopped while it waits to write the merge tables (once they exist), then once
            // its batch started again, within what the whole run took on the other server:
            // before the ingest committed, between it and the merge, during the merge, or
            // after the commit before the slot moved on.
            let merge = if step > 0 {
                crashed.stop_while_merging(platform).await;
                let merge = crashed.connect("merge").await;
                assert_eq!(
                    (
                        status(&merge, platform).await,
                        committed(&merge, platform).await
                    ),
                    (Some("ingested".into()), step),
                    "stopped with its changes staged, before its merge"
                );
                merge
            } else {
                crashed.connect("merge").await
            };
            let child = crashed
                .started(&merge, platform, done, rng.next(took))
                .await;
            let before = committed(&merge, platform).await;
            drop(merge);
            crashed
                .server
                .restart()
                .expect("stop at once and start again");
            stops += 1;
            // The runner lost its connections: it ends with an error or, past its commit,
            // with the slot left where it was.
            child.wait_with_output().expect("the stopped run");
            if before < done {
                interrupted += 1;
            }
            let merge = crashed.connect("merge").await;
            crashed.run_until_committed(&merge, platform, done).await;
        }
        same_tables(&crashed.connect("merge").await, &reference_merge, step).await;
    }
    // Most stops must land before the batch committed, or they prove little.
    assert!(
        interrupted >= 4,
        "only {interrupted} of {stops} stops interrupted a batch"
    );
}
