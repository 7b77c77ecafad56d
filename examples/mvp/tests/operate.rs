//! Operating the runtime binary against real PostgreSQL: `doctor`, the machine-readable
//! outputs (`--json`, `--report`, `--metrics-file`), the log, `--help`, `--version` and
//! completions.

use datasurface::dev::postgres::{Options, ThrowawayPostgres};
use datasurface::serde_json::{self, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "not-a-real-password-1234";

struct Env {
    server: ThrowawayPostgres,
}

impl Env {
    /// A server with the source database and its tables (a few rows), and an empty merge
    /// database; batches log in as `batch`, with a password and only the privileges they
    /// need.
    async fn new() -> Env {
        let env = Env {
            server: ThrowawayPostgres::start_with(Options {
                passwords: true,
                ..Options::default()
            })
            .expect("throwaway PostgreSQL"),
        };
        let admin = env.server.connect("postgres").await.expect("connect");
        admin
            .batch_execute(&format!("CREATE ROLE batch LOGIN PASSWORD '{PASSWORD}'"))
            .await
            .expect("role");
        for db in ["customer_db", "merge"] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("database");
        }
        env.server
            .connect("merge")
            .await
            .expect("connect")
            .batch_execute("GRANT CREATE ON SCHEMA public TO batch")
            .await
            .expect("grant");
        let source = env.server.connect("customer_db").await.expect("connect");
        source
            .batch_execute(&mvp::source_ddl())
            .await
            .expect("source tables");
        source
            .batch_execute(
                "INSERT INTO customers SELECT 'C' || i, 'first' || i, 'last' || i, date '1960-01-01' + i, \
                 'c' || i || '@example.com', NULL, 'A' || i, 'A' || i FROM generate_series(1, 30) AS i; \
                 INSERT INTO addresses SELECT 'A' || i, 'C' || i, i || ' Main St', 'Springfield', 'IL', '62701' \
                 FROM generate_series(1, 20) AS i",
            )
            .await
            .expect("rows");
        source
            .batch_execute("GRANT SELECT ON customers, addresses TO batch")
            .await
            .expect("grant");
        env
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://127.0.0.1:{}/{db}", self.server.port())
    }

    /// The mvp binary, pointed at this server; its standard output is a pipe (not a
    /// terminal), as in a pod.
    fn mvp(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
        c.args(args)
            .env("DATASURFACE_DB_CUSTOMERDB", self.url("customer_db"))
            .env("DATASURFACE_DB_MERGEDB", self.url("merge"))
            .env("postgres_USER", "batch")
            .env("postgres_PASSWORD", PASSWORD)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn output(&self, args: &[&str]) -> Output {
        self.mvp(args).output().expect("run mvp")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn all(o: &Output) -> String {
    stdout(o) + &stderr(o)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(o)))
}

/// The ✓/✗ lines of a doctor table whose subject and check are these.
fn doctor_line<'a>(text: &'a str, subject: &str, check: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_once(subject)
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(check))
        })
        .unwrap_or_else(|| panic!("no {subject} {check} line in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_what_stops_a_batch_and_says_what_to_do() {
    let env = Env::new().await;
    let source = env.server.connect("customer_db").await.expect("connect");
    let merge = env.server.connect("merge").await.expect("connect");

    // `batch` may read addresses and create the merge tables, or not.
    let allow = async |yes: bool| {
        let (verb, to) = if yes {
            ("GRANT", "TO")
        } else {
            ("REVOKE", "FROM")
        };
        let statements = [
            (&source, format!("{verb} SELECT ON addresses {to} batch")),
            (&merge, format!("{verb} CREATE ON SCHEMA public {to} batch")),
        ];
        for (client, sql) in statements {
            client.batch_execute(&sql).await.expect("privileges");
        }
    };

    // A login that may not read a source table nor create the merge tables.
    allow(false).await;
    let out = env.output(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    let ok = |subject: &str, check: &str| doctor_line(&text, subject, check).starts_with('✓');
    assert!(ok("database CustomerDB", "connect"), "{text}");
    assert!(ok("database MergeDB", "credential"), "{text}");
    assert!(
        ok("source table public.customers", "matches the model"),
        "{text}"
    );
    assert!(ok("source table public.customers", "privileges"), "{text}");
    assert!(!ok("source table public.addresses", "privileges"), "{text}");
    assert!(!ok("platform YellowLive", "privileges"), "{text}");
    assert!(!ok("platform YellowLive", "tables"), "{text}");
    for fix in [
        "fix: GRANT SELECT ON \"public\".\"addresses\" TO batch",
        "fix: GRANT USAGE, CREATE ON SCHEMA public TO batch (in database merge)",
        "fix: run infra --platform YellowLive",
    ] {
        assert!(text.contains(fix), "{fix} missing from\n{text}");
    }
    assert!(
        doctor_line(&text, "database MergeDB", "connect").contains("merge as batch"),
        "{text}"
    );

    // Granted, but before infra: the merge tables are missing.
    allow(true).await;
    let out = env.output(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(text.contains("2 failed"), "{text}");

    // After infra on both platforms: ready.
    for platform in ["YellowLive", "YellowForensic"] {
        let out = env.output(&["infra", "--platform", platform]);
        assert!(out.status.success(), "{}", all(&out));
    }
    let out = env.output(&["doctor"]);
    assert!(out.status.success(), "{}", all(&out));
    let text = stdout(&out);
    assert!(text.contains("0 failed: ready to run"), "{}", all(&out));
    // Each snapshot reads the source in key order: here through its primary key.
    let line = doctor_line(&text, "source table public.customers", "key order");
    assert!(
        line.starts_with('✓') && line.contains("read through index customers_pkey, no sort"),
        "{line}"
    );
    // Without an index that gives the order, the source sorts the table for each snapshot.
    source
        .batch_execute("ALTER TABLE addresses DROP CONSTRAINT addresses_pkey")
        .await
        .expect("drop the primary key");
    let out = env.output(&["doctor"]);
    assert!(out.status.success(), "{}", all(&out));
    let text = stdout(&out);
    let line = doctor_line(&text, "source table public.addresses", "key order");
    assert!(
        line.starts_with('✓')
            && line.contains("no index gives it: each snapshot sorts the table")
            && line.contains("in memory"),
        "{line}"
    );

    // A source table that drifted from the model, and a wrong password.
    source
        .batch_execute("ALTER TABLE addresses DROP COLUMN zipcode")
        .await
        .expect("drop column");
    let out = env.output(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = doctor_line(&text, "source table public.addresses", "matches the model");
    assert!(line.starts_with('✗') && line.contains("zipcode"), "{line}");

    let out = env
        .mvp(&["doctor", "--json"])
        .env("postgres_PASSWORD", "wrong-secret-5678")
        .output()
        .expect("doctor");
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["healthy"], false);
    let connect = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["subject"] == "database CustomerDB" && c["check"] == "connect")
        .expect("connect check");
    assert_eq!(connect["ok"], false);
    assert!(
        connect["detail"]
            .as_str()
            .is_some_and(|d| d.contains("password authentication failed")),
        "{connect}"
    );
    assert_eq!(connect["fix"], "check the credential's user and password");
    assert!(!all(&out).contains("wrong-secret-5678"), "{}", all(&out));

    // A credential that is not set at all.
    let out = env
        .mvp(&["doctor"])
        .env_remove("postgres_USER")
        .env_remove("postgres_PASSWORD")
        .env_remove("PGUSER")
        .env_remove("PGPASSWORD")
        .output()
        .expect("doctor");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        all(&out).contains("set postgres_USER and postgres_PASSWORD"),
        "{}",
        all(&out)
    );
    assert!(!all(&out).contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reports_to_machines_and_logs_json_lines_in_a_pod() {
    let env = Env::new().await;
    let out = env.output(&["infra", "--platform", "YellowLive", "--json"]);
    assert!(out.status.success(), "{}", all(&out));
    let infra = json(&out);
    assert_eq!(infra["applied"], true);
    assert!(infra["created"].as_u64().is_some_and(|n| n > 0), "{infra}");

    let dir = env.server.dir().to_owned();
    let report = dir.join("run.json");
    let metrics = dir.join("datasurface.prom");
    let out = env.output(&[
        "run",
        "--platform",
        "YellowLive",
        "--store",
        "Store1",
        "--report",
        report.to_str().expect("path"),
        "--metrics-file",
        metrics.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", all(&out));
    assert!(stdout(&out).ends_with("DATASURFACE_RESULT_CODE=0\n"));

    // Off a terminal, every log line is a JSON object with a level and a message, and the
    // batch's start and commit are among them.
    let log = stderr(&out);
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["message"].is_string())
    );
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["span"]["batch"] == 1
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("committed"))),
        "{log}"
    );
    assert!(!log.contains(PASSWORD));

    let run = read_json(&report);
    assert_eq!(run["status"], "committed");
    assert_eq!(run["result_code"], 0);
    assert_eq!(run["batch"], 1);
    assert_eq!(run["datasets"]["customers"]["inserted"], 30);
    assert_eq!(run["datasets"]["addresses"]["inserted"], 20);
    assert_eq!(run["metrics"]["inserted"], 50);
    assert!(run["timings"]["elapsed"].as_f64().is_some_and(|s| s > 0.0));
    assert_eq!(
        run["schema"]["customers"].as_str().map(str::len),
        Some(16),
        "{run}"
    );
    let prom = std::fs::read_to_string(&metrics).expect("metrics file");
    assert!(
        prom.contains(
            "datasurface_batch_records{platform=\"YellowLive\",stream=\"Store1\",dataset=\"customers\",kind=\"inserted\"} 30\n"
        ),
        "{prom}"
    );
    assert!(
        prom.contains("datasurface_batch_success{platform=\"YellowLive\",stream=\"Store1\"} 1\n")
    );
    assert!(prom.contains("# TYPE datasurface_batch_seconds gauge"));
    assert!(!dir.join("datasurface.prom.partial").exists());

    // --json: the same report on standard output; the text log says nothing there.
    let out = env.output(&[
        "run",
        "--platform",
        "YellowLive",
        "--store",
        "Store1",
        "--json",
        "--log-format",
        "text",
    ]);
    assert!(out.status.success(), "{}", all(&out));
    let run = json(&out);
    assert_eq!(run["batch"], 2);
    assert_eq!(run["metrics"]["inserted"], 0);
    assert!(
        stderr(&out)
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_err())
    );

    // Errors are objects with a stable code too, and the exit code stays.
    let out = env.output(&[
        "run",
        "--platform",
        "YellowLive",
        "--store",
        "Store2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let run = json(&out);
    assert_eq!(run["status"], "failed");
    assert_eq!(run["result_code"], -1);
    assert!(run["error"]["code"].is_string(), "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`Store2`")),
        "{run}"
    );
    let out = env.output(&["status", "--platform", "Nope", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json(&out)["error"]["code"].is_string());

    // -q: only warnings and errors.
    let out = env.output(&["-q", "run", "--platform", "YellowLive", "--store", "Store1"]);
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(stderr(&out), "", "{}", all(&out));
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("json")
}

#[test]
fn help_names_the_models_variables_and_the_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .arg("--help")
        .output()
        .expect("help");
    assert!(out.status.success());
    let text = stdout(&out);
    for expected in [
        "DATASURFACE_DB_CUSTOMERDB",
        "DATASURFACE_DB_MERGEDB",
        "postgres_USER",
        "postgres_PASSWORD",
        "PGSSLMODE",
        "75   the stream is busy",
        "mvp run --platform YellowLive --store Store1",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .arg("--version")
        .output()
        .expect("version");
    let version = stdout(&out);
    assert!(
        version.starts_with("mvp ")
            && version.contains(" (model Test, fingerprint ")
            && version.contains(", image tag "),
        "{version}"
    );

    let dir = std::env::temp_dir().join(format!("datasurface-operate-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(["generate", "--check", "--json", "--out"])
        .arg(&dir)
        .output()
        .expect("generate");
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    let check = json(&out);
    assert_eq!(check["written"], false);
    assert!(
        check["stale"]
            .as_array()
            .is_some_and(|s| s.len() == check["files"])
    );
    assert!(!dir.exists(), "--check writes nothing");

    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(["completions", "bash"])
        .output()
        .expect("completions");
    assert!(out.status.success());
    let script = stdout(&out);
    assert!(script.contains("reset-batch") && script.contains("--max-delete-percent"));
}

/// Standard output read by `head`: the reader goes, and the command ends quietly.
#[test]
fn a_closed_standard_output_ends_the_command_quietly() {
    let dir = std::env::temp_dir().join(format!("datasurface-closed-{}", std::process::id()));
    let dir = dir.to_str().expect("path");
    for args in [
        &["completions", "bash"][..],
        &["generate", "--out", dir],
        &["validate"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("mvp");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_log_says_each_thing_once() {
    let env = Env::new().await;
    let text = |args: &[&str]| {
        let out = env.output(&[args, &["--log-format", "text"]].concat());
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, _, log) = text(&["run", "--platform", "YellowLive", "--store", "Store1"]);
    assert_eq!(code, Some(0), "{log}");
    // The batch's span names it; its events do not name it again.
    assert!(
        log.contains("YellowLive Store1 batch 1: started\n"),
        "{log}"
    );
    assert!(
        log.contains("YellowLive Store1 batch 1: committed\n"),
        "{log}"
    );
    assert!(!log.contains("batch 1: batch 1"), "{log}");

    let (code, out, err) = text(&["run", "--platform", "YellowLive", "--store", "Nope"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "DATASURFACE_RESULT_CODE=-1\n");
    assert_eq!(
        err,
        "error: YellowLive Nope: Could not find datastore in ecosystem: `Nope`\n"
    );
}
