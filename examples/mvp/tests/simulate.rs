//! The data change simulator, run as the `simulate` subcommand of the model's binary.

use datasurface::dev::postgres::ThrowawayPostgres;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tokio_postgres::Client;

async fn connect(server: &ThrowawayPostgres, db: &str) -> Client {
    server.connect(db).await.expect("connect")
}

async fn create_db(server: &ThrowawayPostgres, name: &str) {
    connect(server, "postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
}

fn simulate(server: &ThrowawayPostgres, db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
    c.arg("simulate")
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
            "--database",
            db,
            "--user",
            "postgres",
        ])
        .args(args)
        .env_remove("PGPASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const FAST: &[&str] = &["--min-interval", "0.001", "--max-interval", "0.001"];

async fn contents(client: &Client) -> (String, String, i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c), \
             (SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM addresses a), \
             (SELECT count(*) FROM customers), (SELECT count(*) FROM addresses)",
            &[],
        )
        .await
        .expect("contents");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

#[test]
fn bad_flags_get_errors_that_say_what_is_allowed() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
            .arg("simulate")
            .args(args)
            .output()
            .expect("run");
        (out.status.code(), text(&out))
    };
    let (code, msg) = run(&["--min-interval", "0"]);
    assert_eq!(code, Some(2));
    assert!(
        msg.contains("must be a number of seconds greater than 0"),
        "{msg}"
    );
    let (code, msg) = run(&["--max-interval", "soon"]);
    assert_eq!(code, Some(2));
    assert!(msg.contains("`soon` is not a number of seconds"), "{msg}");
    let (code, msg) = run(&["--min-interval", "5", "--max-interval", "1"]);
    assert_eq!(code, Some(2));
    assert!(
        msg.contains("--min-interval (5) is greater than --max-interval (1)"),
        "{msg}"
    );
    let (code, msg) = run(&["--max-changes", "0"]);
    assert_eq!(code, Some(2));
    assert!(msg.contains("0 is not in 1.."), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_run_makes_the_same_changes_twice() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    let mut results = Vec::new();
    for db in ["first", "second"] {
        create_db(&server, db).await;
        let mut args = vec![
            "--create-tables",
            "--seed",
            "42",
            "--max-changes",
            "40",
            "--verbose",
        ];
        args.extend(FAST);
        let out = simulate(&server, db, &args).output().expect("simulate");
        assert!(out.status.success(), "{}", text(&out));
        results.push((
            String::from_utf8_lossy(&out.stdout).to_string(),
            contents(&connect(&server, db).await).await,
        ));
    }
    assert_eq!(results[0], results[1]);
    assert!(
        results[0].0.contains("seeded 5 customers"),
        "{}",
        results[0].0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_says_exactly_what_changed() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    create_db(&server, "customer_db").await;
    let mut args = vec!["--create-tables", "--max-changes", "1", "--seed", "7"];
    args.extend(FAST);
    assert!(
        simulate(&server, "customer_db", &args)
            .output()
            .expect("seed")
            .status
            .success()
    );
    let client = connect(&server, "customer_db").await;
    let before = contents(&client).await;

    let mut args = vec!["--max-changes", "20", "--verbose", "--seed", "8"];
    args.extend(FAST);
    let out = simulate(&server, "customer_db", &args)
        .output()
        .expect("simulate");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", text(&out));
    let after = contents(&client).await;
    let summary = stdout.lines().last().expect("summary");
    assert!(summary.starts_with("simulate: 20 changes ("), "{summary}");
    let count = |what: &str| -> i64 {
        summary
            .trim_end_matches(')')
            .split(['(', ','])
            .find_map(|part| {
                part.trim()
                    .strip_prefix(what)
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let (new_customers, new_addresses, deletes) = (
        count("new customer "),
        count("new address "),
        count("address delete "),
    );
    let updates = count("customer update ") + count("address update ");
    assert_eq!(
        new_customers + new_addresses + deletes + updates,
        20,
        "{summary}"
    );
    assert_eq!(after.2 - before.2, new_customers, "{summary}");
    assert_eq!(
        after.3 - before.3,
        new_customers + new_addresses - deletes,
        "{summary}"
    );
    // One verbose line per change, then the summary.
    assert_eq!(stdout.lines().count(), 21, "{stdout}");
    // Every address delete left its customer with a primary and a billing address that exist.
    let orphans: i64 = client
        .query_one(
            "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM addresses a WHERE a.id = c.primaryaddressid) \
             OR NOT EXISTS (SELECT 1 FROM addresses a WHERE a.id = c.billingaddressid)",
            &[],
        )
        .await
        .expect("orphans")
        .get(0);
    assert_eq!(orphans, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_run_is_survived() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    create_db(&server, "customer_db").await;
    let args = [
        "--create-tables",
        "--max-changes",
        "30",
        "--min-interval",
        "0.05",
        "--max-interval",
        "0.05",
        "--seed",
        "3",
    ];
    let child = simulate(&server, "customer_db", &args)
        .spawn()
        .expect("simulate");
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.restart().expect("restart PostgreSQL");
    let out = child.wait_with_output().expect("simulate");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("lost; reconnecting"), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("simulate: 30 changes")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_another_shape_are_named() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    create_db(&server, "other").await;
    let out = simulate(&server, "other", &["--max-changes", "1"])
        .output()
        .expect("simulate");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("table customers not found in database other"),
        "{}",
        text(&out)
    );
    connect(&server, "other")
        .await
        .batch_execute("CREATE TABLE customers (id text); CREATE TABLE addresses (id text)")
        .await
        .expect("tables");
    let out = simulate(&server, "other", &["--max-changes", "1"])
        .output()
        .expect("simulate");
    assert!(
        text(&out)
            .contains("table customers of database other lacks column(s) firstname, lastname"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_after_the_current_change_with_a_summary() {
    let server = ThrowawayPostgres::start().expect("PostgreSQL");
    create_db(&server, "customer_db").await;
    let args = [
        "--create-tables",
        "--min-interval",
        "0.2",
        "--max-interval",
        "0.2",
        "--verbose",
    ];
    let child = simulate(&server, "customer_db", &args)
        .spawn()
        .expect("simulate");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("simulate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    let summary = stdout.lines().last().expect("a summary");
    assert!(summary.starts_with("simulate: "), "{stdout}");
    let made: usize = summary
        .trim_start_matches("simulate: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(made >= 1, "{stdout}");
    // One line per change made, then the seeding line and the summary.
    assert_eq!(stdout.lines().count(), made + 5 + 2, "{stdout}");
}

/// The simulator's database is found as the engine finds it: the model and
/// `DATASURFACE_DB_*`, never `PGHOST`, `PGPORT` or `PGDATABASE`; only its flags override.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_finds_its_database_as_the_engine_does() {
    let cluster = ThrowawayPostgres::start().expect("PostgreSQL");
    create_db(&cluster, "src").await;
    let elsewhere = |c: &mut Command| {
        c.env("PGHOST", "elsewhere.invalid")
            .env("PGPORT", "1")
            .env("PGDATABASE", "nope")
            .env_remove("PGPASSWORD")
            .env_remove("postgres_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
    c.args(["simulate", "--create-tables", "--max-changes", "1"])
        .args(FAST)
        .env("DATASURFACE_DB_CUSTOMERDB", cluster.url("src"))
        .env_remove("postgres_USER");
    elsewhere(&mut c);
    let out = c.output().expect("simulate");
    assert!(out.status.success(), "{}", text(&out));
    let (_, _, customers, _) = contents(&connect(&cluster, "src").await).await;
    assert!(customers > 0, "the source it seeded is the override's");

    // Without a login from the credential, the URL or PGUSER, it says where one goes.
    let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
    c.args(["simulate", "--max-changes", "1"])
        .env_remove("DATASURFACE_DB_CUSTOMERDB")
        .env_remove("postgres_USER")
        .env_remove("PGUSER");
    elsewhere(&mut c);
    let out = c.output().expect("simulate");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "error: credential `postgres`: set postgres_USER (and postgres_PASSWORD) in the environment, or PGUSER, or pass --user"
        ),
        "{}",
        text(&out)
    );
}
