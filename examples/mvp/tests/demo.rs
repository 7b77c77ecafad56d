//! `demo`, end to end: the metrics it prints agree with what the merge tables hold.

use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::*;
use std::process::Command;
use tokio_postgres::NoTls;

/// (platform, batch, inserted, updated, deleted, total) from lines like
/// `  YellowLive Store1: batch 2 committed: 8 inserted, 4 updated, 0 deleted, 18 rows in 0.0 s`.
fn printed_batches(stdout: &str) -> Vec<(String, i32, i64, i64, i64, i64)> {
    printed_batches_of(stdout, "Store1")
}

/// [`printed_batches`] of the store `store`.
fn printed_batches_of(stdout: &str, store: &str) -> Vec<(String, i32, i64, i64, i64, i64)> {
    let marker = format!(" {store}: batch ");
    stdout
        .lines()
        .filter_map(|line| {
            let (head, rest) = line.trim().split_once(&marker)?;
            let (batch, rest) = rest.split_once(" committed: ")?;
            let numbers: Vec<i64> = rest
                .split([',', ' '])
                .filter_map(|w| w.parse().ok())
                .collect();
            Some((
                head.to_owned(),
                batch.parse().ok()?,
                numbers[0],
                numbers[1],
                numbers[2],
                numbers[3],
            ))
        })
        .collect()
}

async fn check_against_tables(url: &str, printed: &[(String, i32, i64, i64, i64, i64)]) {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the kept database");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let merge_tables =
        |platform| ["customers", "addresses"].map(|d| naming::merge_table(platform, "Store1", d));
    let [live_customers, live_addresses] = merge_tables("YellowLive");
    let [forensic_customers, forensic_addresses] = merge_tables("YellowForensic");
    for (platform, current_sql) in [
        (
            "YellowLive",
            format!(
                "SELECT (SELECT count(*) FROM {live_customers}) + (SELECT count(*) FROM {live_addresses})"
            ),
        ),
        (
            "YellowForensic",
            format!(
                "SELECT (SELECT count(*) FROM {forensic_customers} WHERE ds_surf_batch_out = 2147483647) \
                 + (SELECT count(*) FROM {forensic_addresses} WHERE ds_surf_batch_out = 2147483647)"
            ),
        ),
    ] {
        let mine: Vec<_> = printed.iter().filter(|b| b.0 == platform).collect();
        assert_eq!(
            mine.len(),
            3,
            "{platform}: one batch per cycle plus the first"
        );
        let metrics: Vec<(i32, i64, i64, i64, i64)> = client
            .query(
                &format!(
                    "SELECT batch_id, records_inserted, records_updated, records_deleted, total_records \
                     FROM {} ORDER BY batch_id",
                    naming::batch_metrics_table(platform)
                ),
                &[],
            )
            .await
            .expect("metrics")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        let printed: Vec<_> = mine.iter().map(|b| (b.1, b.2, b.3, b.4, b.5)).collect();
        assert_eq!(metrics, printed, "{platform}");
        let current: i64 = client
            .query_one(&current_sql, &[])
            .await
            .expect("current rows")
            .get(0);
        let net: i64 = mine.iter().map(|b| b.2 - b.4).sum();
        assert_eq!(
            current, net,
            "{platform}: inserted minus deleted over all batches"
        );
        assert_eq!(
            current,
            mine.last().expect("a batch").5,
            "{platform}: rows of the last snapshot"
        );
    }
    // The forensic history counts every update as a new version.
    let versions: i64 = client
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {forensic_customers}) + (SELECT count(*) FROM {forensic_addresses})"
            ),
            &[],
        )
        .await
        .expect("versions")
        .get(0);
    let expected: i64 = printed
        .iter()
        .filter(|b| b.0 == "YellowForensic")
        .map(|b| b.2 + b.3)
        .sum();
    assert_eq!(versions, expected);
}

/// `mvp demo` with `args`, in the environment `env` adds to the test's: what it printed,
/// once it succeeded.
fn demo(args: &[&str], env: &[(&str, String)]) -> String {
    demo_of(env!("CARGO_BIN_EXE_mvp"), args, env)
}

/// [`demo`] of the runtime binary `binary`.
fn demo_of(binary: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new(binary)
        .arg("demo")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("demo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_on_a_throwaway_database_and_keeps_it_on_request() {
    let stdout = demo(
        &["--cycles", "2", "--changes", "15", "--seed", "4", "--keep"],
        &[],
    );
    assert!(stdout.contains("The history of customer"), "{stdout}");
    let url = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("psql "))
        .expect("a psql line")
        .to_owned();
    let stop = after(&stdout, "Stop and remove them with:");
    check_against_tables(&url, &printed_batches(&stdout)).await;
    let stopped = Command::new("sh")
        .arg("-c")
        .arg(&stop)
        .output()
        .expect("stop");
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(
        tokio_postgres::connect(&url, NoTls).await.is_err(),
        "the server is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_uses_the_databases_it_is_pointed_at() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    let (admin, conn) = tokio_postgres::connect(&server.url("postgres"), NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    admin
        .batch_execute("CREATE DATABASE src")
        .await
        .expect("src");
    admin
        .batch_execute("CREATE DATABASE mrg")
        .await
        .expect("mrg");
    let stdout = demo(
        &["--cycles", "2", "--changes", "10", "--seed", "9"],
        &[
            ("DATASURFACE_DB_CUSTOMERDB", server.url("src")),
            ("DATASURFACE_DB_MERGEDB", server.url("mrg")),
            ("postgres_USER", "postgres".to_owned()),
        ],
    );
    assert!(
        stdout.starts_with("using the databases named by DATASURFACE_DB_*"),
        "{stdout}"
    );
    check_against_tables(&server.url("mrg"), &printed_batches(&stdout)).await;
}

/// A model unlike the MVP: two stores on two source databases, one of them
/// SINGLE_DATASET, keys of other types, a composite key, and both platforms.
fn another_model() -> Ecosystem {
    let people = DatasetSchema::new("people")
        .column(Column::new("id", DataType::Integer))
        .column(Column::new("firstName", DataType::Varchar(30)))
        .column(Column::nullable("born", DataType::Date))
        .column(Column::nullable("salary", DataType::Numeric(Some((8, 2)))))
        .key(["id"])
        .classified(Classification::Personal);
    let visits = DatasetSchema::new("visits")
        .column(Column::new("day", DataType::Date))
        .column(Column::new("site", DataType::Varchar(12)))
        .column(Column::nullable("hits", DataType::BigInt))
        .column(Column::nullable("ok", DataType::Boolean))
        .key(["day", "site"])
        .classified(Classification::Internal);
    let pages = DatasetSchema::new("pages")
        .column(Column::new("url", DataType::Text))
        .column(Column::nullable("title", DataType::Text))
        .key(["url"])
        .classified(Classification::Public);
    let hr = Datastore::new("HR")
        .capture(SqlSnapshot::new(
            PostgresDatabase::new("HrDB", "hr"),
            Credential::user_password("hr"),
            "@hourly",
        ))
        .dataset_schema(people);
    let web = Datastore::new("Web")
        .capture(
            SqlSnapshot::new(
                PostgresDatabase::new("WebDB", "web"),
                Credential::user_password("web"),
                "@daily",
            )
            .consistency(Consistency::SingleDataset)
            .schema("site"),
        )
        .dataset_schema(visits)
        .dataset_schema(pages);
    let analytics = Workspace::new("Analytics")
        .dsg(
            DatasetGroup::new("Now", Retention::LiveOnly)
                .sink_named("HR", "people")
                .sink_named("Web", "visits")
                .sink_named("Web", "pages"),
        )
        .dsg(DatasetGroup::new("Past", Retention::Forensic).sink_named("HR", "people"));
    let provider = YellowServiceProvider::new(
        "P",
        "ns",
        PostgresDatabase::new("MergeDB", "merge"),
        Credential::user_password("merge"),
    );
    Ecosystem::new("Other")
        .zone(
            GovernanceZone::new("Z").team(
                Team::new("t")
                    .datastore(hr)
                    .datastore(web)
                    .workspace(analytics),
            ),
        )
        .platform(YellowPlatform::live("Live", &provider))
        .platform(YellowPlatform::forensic("Past", &provider))
        .provider(provider)
        .assign(Assignment::new("Analytics", "Now", "Live"))
        .assign(Assignment::new("Analytics", "Past", "Past"))
}

#[test]
fn the_demo_runs_any_model() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = datasurface::run(
        another_model(),
        [
            "other",
            "demo",
            "--cycles",
            "2",
            "--changes",
            "8",
            "--seed",
            "5",
        ],
        &mut out,
        &mut err,
    );
    let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    assert_eq!(code, 0, "{out}{err}");
    for expected in [
        "created the tables of HR in hr (people) and seeded 50 rows of people",
        "created the tables of Web in web (visits, pages) and seeded 50 rows of visits, pages",
        "infra Live: ",
        "  Live HR: batch 3 committed: ",
        "  Live Web#visits: batch 3 committed: ",
        "  Live Web#pages: batch 3 committed: ",
        "  Past HR: batch 3 committed: ",
        "The history of people ",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // Every batch after the first saw the changes the simulator made.
    let changed = out
        .lines()
        .filter(|l| l.contains(": batch ") && !l.contains(": batch 1 committed"))
        .filter(|l| !l.contains(" 0 inserted, 0 updated, 0 deleted"))
        .count();
    assert!(changed >= 4, "{out}");
}

#[test]
fn an_interrupted_demo_removes_what_it_started() {
    let child = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(["demo", "--cycles", "1000", "--changes", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("demo");
    let pid = child.id();
    let dir_prefix = format!("datasurface-pg-{pid}-");
    let ours = || {
        std::fs::read_dir(std::env::temp_dir())
            .expect("temp dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&dir_prefix))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ours() {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo never started its database"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; everything the demo started was stopped and removed"),
        "{stderr}"
    );
    assert!(!ours(), "the throwaway database directory is gone");
}

/// `demo --keep` prints the variables that point the binary at the databases it kept, and
/// with them the binary's commands work on those databases.
#[test]
fn a_kept_demo_says_how_to_point_the_binary_at_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args([
            "demo",
            "--cycles",
            "1",
            "--changes",
            "5",
            "--seed",
            "2",
            "--keep",
        ])
        .output()
        .expect("demo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exports: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(var, value)| (var.to_owned(), value.to_owned()))
        .collect();
    let vars: Vec<&str> = exports.iter().map(|(var, _)| var.as_str()).collect();
    assert_eq!(
        vars,
        [
            "DATASURFACE_DB_CUSTOMERDB",
            "DATASURFACE_DB_MERGEDB",
            "postgres_USER"
        ],
        "{stdout}"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(["status", "--platform", "YellowLive"])
        .envs(exports.iter().map(|(var, value)| (var, value)))
        .env_remove("postgres_PASSWORD")
        .output()
        .expect("status");
    let stop = after(&stdout, "Stop and remove them with:");
    let stopped = Command::new("sh")
        .arg("-c")
        .arg(&stop)
        .status()
        .expect("stop");
    assert!(stopped.success());
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // The first batch and the cycle's.
    assert_eq!(
        table.lines().filter(|l| l.contains(" committed ")).count(),
        2,
        "{table}"
    );
}

/// The line after `heading` in a kept demo's output: the command it names.
fn after(stdout: &str, heading: &str) -> String {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .nth(1)
        .unwrap_or_else(|| panic!("no line after {heading:?} in:\n{stdout}"))
        .trim()
        .to_owned()
}

/// The URL a kept demo's `export VAR=URL` line gives.
fn exported(stdout: &str, var: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("export {var}=")))
        .unwrap_or_else(|| panic!("no export of {var} in:\n{stdout}"))
        .to_owned()
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the kept database");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The shop's demo: its store is captured by logical replication, so after the first batch
/// (a snapshot) every batch reads the changes the simulator made from the slot; the metrics
/// it prints are the tables', and in the end both platforms hold what the source holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_of_a_replicated_store_reads_its_changes_and_ends_as_its_source_is() {
    let stdout = demo_of(
        env!("CARGO_BIN_EXE_shop"),
        &["--cycles", "3", "--changes", "20", "--seed", "6", "--keep"],
        &[],
    );
    let source = client(&exported(&stdout, "DATASURFACE_DB_SHOPDB")).await;
    let merge = client(&exported(&stdout, "DATASURFACE_DB_MERGEDB")).await;
    let printed = printed_batches_of(&stdout, "Orders");
    for platform in ["YellowLive", "YellowForensic"] {
        let metrics: Vec<(i32, i64, i64, i64, i64, String)> = merge
            .query(
                &format!(
                    "SELECT batch_id, records_inserted, records_updated, records_deleted, total_records, \
                     state::jsonb -> 'capture' ->> 'read' FROM {} ORDER BY batch_id",
                    naming::batch_metrics_table(platform)
                ),
                &[],
            )
            .await
            .expect("metrics")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect();
        let mine: Vec<_> = printed
            .iter()
            .filter(|b| b.0 == platform)
            .map(|b| (b.1, b.2, b.3, b.4, b.5))
            .collect();
        let recorded: Vec<_> = metrics.iter().map(|m| (m.0, m.1, m.2, m.3, m.4)).collect();
        assert_eq!(recorded, mine, "{platform}: printed and recorded metrics");
        let reads: Vec<&str> = metrics.iter().map(|m| m.5.as_str()).collect();
        assert_eq!(
            reads,
            ["snapshot", "changes", "changes", "changes"],
            "{platform}: how each batch read the source"
        );
        assert!(
            metrics[1..].iter().any(|m| m.1 + m.2 + m.3 > 0),
            "{platform}: the changes reached the batches"
        );

        // Every current row is the source's.
        for (dataset, columns) in [
            ("orders", "id, customer_id, placed_at, status, note"),
            ("order_lines", "order_id, line, sku, quantity, price"),
        ] {
            let current = match platform {
                "YellowLive" => String::new(),
                _ => " WHERE ds_surf_batch_out = 2147483647".to_owned(),
            };
            let table = naming::merge_table(platform, "Orders", dataset);
            let fingerprint = |from: String| {
                format!(
                    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) \
                     FROM (SELECT {columns} FROM {from}) AS t"
                )
            };
            let at_source = source
                .query_one(&fingerprint(dataset.to_owned()), &[])
                .await
                .expect("source rows");
            let merged = merge
                .query_one(&fingerprint(format!("{table}{current}")), &[])
                .await
                .expect("merged rows");
            assert_eq!(
                (
                    at_source.get::<_, i64>(0),
                    at_source.get::<_, Option<String>>(1)
                ),
                (merged.get::<_, i64>(0), merged.get::<_, Option<String>>(1)),
                "{platform} {dataset}"
            );
        }
    }
    let stop = after(&stdout, "Stop and remove them with:");
    let stopped = Command::new("sh")
        .arg("-c")
        .arg(&stop)
        .output()
        .expect("stop");
    assert!(stopped.status.success());
}
