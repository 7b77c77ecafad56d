//! The generated DAGs run end to end in real Airflow — 2.10 and 3.x, each from the venv
//! `scripts/test.sh` installs — against a throwaway PostgreSQL.
//!
//! `scripts/run_dag.py` loads the folder `generate` writes and runs one DAG with Airflow's
//! own `dag.test()` (what `airflow dags test` runs). Only the Kubernetes cluster is a stand-in:
//! the KubernetesPodOperator talks to a small Kubernetes API that runs each pod's container
//! as a local process of the built binary, with the pod's arguments and an environment built
//! from the pod's `env` entries, each `secretKeyRef` resolved from Secrets created as the
//! generated `secrets.md` tells an operator to. The database hosts the model names are
//! reached through `DATASURFACE_DB_*`, which stands in for the cluster's network. The
//! databases accept the pods' login only with its password, so a pod whose Secret
//! references are wrong cannot pass.

use datasurface::StreamKey;
use datasurface::codegen::dags::{infrastructure_dag_id, ingestion_dag_id};
use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::naming::{self, ViewKind};
use datasurface::serde_json::{self, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The login the pods get from their Secret, and its password: neither may reach a log.
const LOGIN: &str = "pod_login_5e1f";
const PASSWORD: &str = "pod-Password-7c2d91";

/// One Airflow, one throwaway PostgreSQL with the MVP's source and merge databases, and the
/// generated artifacts.
struct World {
    server: ThrowawayPostgres,
    python: PathBuf,
    dir: PathBuf,
    /// The Secrets of each namespace, as `secrets.md` says to create them.
    secrets: Value,
    /// Every DAG run's log, for the secret check.
    logs: Vec<String>,
}

/// A DAG run under way: `run_dag.py`, stopped if the test fails before it ends.
struct Started {
    child: Child,
    log: PathBuf,
    report: PathBuf,
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one `dag.test()` reported, and its log.
struct DagRun {
    report: Value,
    log: String,
}

impl DagRun {
    /// The DAG run's state, and its one task's state and try number.
    fn outcome(&self) -> (String, String, i64) {
        let tasks = self.report["tasks"].as_object().expect("tasks");
        assert_eq!(tasks.len(), 1, "{}", self.report);
        let task = tasks.values().next().expect("a task");
        (
            self.report["dag_run"].as_str().expect("state").to_owned(),
            task["state"].as_str().expect("task state").to_owned(),
            task["try_number"].as_i64().expect("try number"),
        )
    }

    /// The one pod the run launched, as the cluster saw it.
    fn pod(&self) -> &Value {
        let pods = self.report["pods"].as_array().expect("pods");
        assert_eq!(pods.len(), 1, "{}", self.report);
        &pods[0]
    }

    /// The DAG run and its task ended in these states, the task at its first try.
    fn assert_ended(&self, dag_run: &str, task: &str) {
        assert_eq!(
            self.outcome(),
            (dag_run.to_owned(), task.to_owned(), 1),
            "{}\n{}",
            self.report,
            self.log
        );
    }
}

impl World {
    async fn new(airflow: &str) -> World {
        let python = std::env::var_os(format!("DATASURFACE_{}", airflow.to_uppercase()))
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join(format!("target/{airflow}/bin/python")));
        assert!(
            python.exists(),
            "{} is missing: scripts/test.sh installs Airflow there",
            python.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "datasurface-airflow-{airflow}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("work dir");
        let out = mvp()
            .args(["generate", "--out"])
            .arg(dir.join("generated"))
            .output()
            .expect("generate");
        assert!(out.status.success(), "{}", text(&out));
        let guide = std::fs::read_to_string(dir.join("generated/secrets.md")).expect("guide");
        let world = World {
            server: ThrowawayPostgres::start().expect("throwaway PostgreSQL"),
            python,
            secrets: secrets_from_guide(&guide),
            dir,
            logs: Vec::new(),
        };
        world.create_databases().await;
        world
    }

    /// The pods' login owns the merge database and reads the source; it logs in with its
    /// password only (the tests' own `postgres` connections stay trusted).
    async fn create_databases(&self) {
        let admin = self.server.connect("postgres").await.expect("connect");
        for statement in [
            format!("CREATE ROLE {LOGIN} LOGIN PASSWORD '{PASSWORD}'"),
            "CREATE DATABASE customer_db".to_owned(),
            format!("CREATE DATABASE datasurface_merge OWNER {LOGIN}"),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .expect("role and databases");
        }
        self.simulate(&["--create-tables", "--seed", "1", "--max-changes", "1"]);
        self.source()
            .await
            .batch_execute(&format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {LOGIN}"
            ))
            .await
            .expect("grant");
        std::fs::write(
            self.server.dir().join("data/pg_hba.conf"),
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
        // The restart is an immediate stop: a checkpoint first keeps the commits above.
        admin.batch_execute("CHECKPOINT").await.expect("checkpoint");
        self.server.restart().expect("restart with passwords");
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.server.port())
            .user(LOGIN)
            .dbname("datasurface_merge");
        assert!(
            config.connect(tokio_postgres::NoTls).await.is_err(),
            "the pods' login must need its password"
        );
    }

    async fn source(&self) -> tokio_postgres::Client {
        self.server.connect("customer_db").await.expect("source")
    }

    async fn merge(&self) -> tokio_postgres::Client {
        self.server
            .connect("datasurface_merge")
            .await
            .expect("merge")
    }

    /// Changes the source with the simulator.
    fn simulate(&self, args: &[&str]) {
        let out = mvp()
            .arg("simulate")
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.server.port().to_string())
            .args(["--database", "customer_db", "--user", "postgres"])
            .args(["--min-interval", "0.001", "--max-interval", "0.001"])
            .args(args)
            .output()
            .expect("simulate");
        assert!(out.status.success(), "{}", text(&out));
    }

    /// The cluster the pods run in: the image is the built binary, the Secrets are
    /// `secrets`, and the model's database hosts are reached on this PostgreSQL.
    fn cluster_spec(&self, name: &str, secrets: &Value) -> PathBuf {
        let eco = mvp::ecosystem().validate().expect("valid");
        let platform = eco.platforms().next().expect("a platform");
        let image = datasurface::codegen::image(
            &eco,
            platform.provider,
            &datasurface::generate::context("mvp"),
        );
        let spec = json!({
            "images": {image: env!("CARGO_BIN_EXE_mvp")},
            "secrets": secrets,
            "network": {
                "DATASURFACE_DB_CUSTOMERDB": self.location("customer_db"),
                "DATASURFACE_DB_MERGEDB": self.location("datasurface_merge"),
            },
        });
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, spec.to_string()).expect("cluster spec");
        path
    }

    /// Where a database is: host, port and name, no login.
    fn location(&self, database: &str) -> String {
        format!("postgres://127.0.0.1:{}/{database}", self.server.port())
    }

    /// Starts one run of `dag_id` in the Airflow home `home`, in a cluster with `secrets`.
    fn start_dag(&self, home: &str, dag_id: &str, secrets: &Value) -> Started {
        let home = self.dir.join(home);
        std::fs::create_dir_all(&home).expect("airflow home");
        let log = home.join(format!("{dag_id}.log"));
        let report = home.join(format!("{dag_id}.json"));
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(&self.python)
            .arg(repo().join("scripts/run_dag.py"))
            .arg("--dags")
            .arg(self.dir.join("generated"))
            .arg("--home")
            .arg(&home)
            .arg("--cluster")
            .arg(self.cluster_spec(&format!("cluster-{dag_id}"), secrets))
            .arg("--report")
            .arg(&report)
            .arg(dag_id)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("run_dag.py");
        Started { child, log, report }
    }

    /// Waits for a run started by `start_dag`.
    fn finish_dag(&mut self, mut started: Started) -> DagRun {
        let status = started.child.wait().expect("run_dag.py");
        let log = std::fs::read_to_string(&started.log).expect("log");
        assert!(status.success(), "run_dag.py: {status}\n{log}");
        let report = std::fs::read_to_string(&started.report)
            .unwrap_or_else(|e| panic!("no report: {e}\n{log}"));
        self.logs.push(log.clone());
        DagRun {
            report: serde_json::from_str(&report).expect("report"),
            log,
        }
    }

    /// One run of `dag_id` in the cluster whose Secrets are as the guide says.
    fn run_dag(&mut self, dag_id: &str) -> DagRun {
        let started = self.start_dag("home", dag_id, &self.secrets.clone());
        self.finish_dag(started)
    }

    /// The batches of `platform`, by id, from `status --json` as an operator runs it.
    fn batches(&self, platform: &str) -> BTreeMap<i64, Value> {
        let out = mvp()
            .args(["status", "--platform", platform, "--json"])
            .env(
                "DATASURFACE_DB_MERGEDB",
                self.server.url("datasurface_merge"),
            )
            .output()
            .expect("status");
        assert!(out.status.success(), "{}", text(&out));
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("status json");
        rows.into_iter()
            .map(|b| (b["batch_id"].as_i64().expect("batch id"), b))
            .collect()
    }

    /// Every source row by dataset and key, as text.
    async fn source_rows(&self) -> Rows {
        rows(&self.source().await, |dataset| dataset.to_owned()).await
    }

    /// The rows the live views of workspace Consumer1's group `dsg` on `platform` serve,
    /// by dataset and key, as text.
    async fn served_rows(&self, platform: &str, dsg: &str) -> Rows {
        rows(&self.merge().await, |dataset| {
            naming::view_name(
                platform,
                "Consumer1",
                dsg,
                "Store1",
                dataset,
                ViewKind::Live,
            )
        })
        .await
    }
}

/// The DAG id of `platform`'s ingestion of Store1.
fn ingestion(platform: &str) -> String {
    ingestion_dag_id(platform, &StreamKey::new("Store1", None::<String>))
}

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary as an operator runs it: nothing inherited that names a database or login.
fn mvp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
    c.env_clear().stdin(Stdio::null());
    c
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Secrets the guide's `kubectl create secret` commands create, its placeholders
/// filled in: the login and password for `<username>` and `<password>`.
fn secrets_from_guide(guide: &str) -> Value {
    let mut secrets = json!({});
    let mut current: Option<(String, String)> = None;
    for line in guide.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("kubectl create secret generic ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let namespace = words[words.iter().position(|w| *w == "--namespace").expect("ns") + 1];
            current = Some((namespace.to_owned(), words[0].to_owned()));
        } else if let Some(rest) = line.strip_prefix("--from-literal=") {
            let (namespace, name) = current.as_ref().expect("a kubectl command");
            let (key, placeholder) = rest.trim_end_matches(" \\").split_once('=').expect("key");
            let value = match placeholder {
                "'<username>'" => LOGIN.to_owned(),
                "'<password>'" => PASSWORD.to_owned(),
                other => format!("unused {other}"),
            };
            secrets[namespace][name][key] = json!(value);
        } else {
            current = None;
        }
    }
    secrets
}

/// Rows by dataset and key, as text.
type Rows = BTreeMap<(String, String), String>;

/// Every row of each MVP dataset in the relation `relation(dataset)` names.
async fn rows(client: &tokio_postgres::Client, relation: impl Fn(&str) -> String) -> Rows {
    let mut out = BTreeMap::new();
    for dataset in ["customers", "addresses"] {
        for row in client
            .query(
                &format!("SELECT id, t::text FROM {} AS t", relation(dataset)),
                &[],
            )
            .await
            .expect("rows")
        {
            out.insert((dataset.to_owned(), row.get(0)), row.get(1));
        }
    }
    out
}

/// The metrics a batch from `before` to `after` must record: inserted, updated and deleted
/// keys, and the rows of the snapshot.
fn metrics(before: &Rows, after: &Rows) -> Value {
    let inserted = after.keys().filter(|k| !before.contains_key(*k)).count();
    let deleted = before.keys().filter(|k| !after.contains_key(*k)).count();
    let updated = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
        .count();
    json!([inserted, updated, deleted, after.len()])
}

/// A batch's status and metrics, as `status --json` gives them.
fn recorded(batch: &Value) -> (String, Value) {
    (
        batch["batch_status"].as_str().expect("status").to_owned(),
        json!([
            batch["records_inserted"],
            batch["records_updated"],
            batch["records_deleted"],
            batch["total_records"]
        ]),
    )
}

/// Names and types of the platform's tables and views in the merge database, with owners.
async fn relations(world: &World, platform: &str) -> Vec<String> {
    let prefix = naming::sql_prefix(platform);
    world
        .merge()
        .await
        .query(
            "SELECT concat_ws(' ', c.relname, CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, \
             pg_get_userbyid(c.relowner)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND c.relname LIKE $1 \
             ORDER BY 1",
            &[&format!("{prefix}\\_%")],
        )
        .await
        .expect("relations")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn airflow_runs_the_generated_dags(airflow: &str) {
    let mut world = World::new(airflow).await;

    // A pod whose Secret, or a key of it, is missing never starts: Airflow fails the task
    // when the operator's startup timeout (120 s) runs out. Both run meanwhile.
    let mut no_secret = world.secrets.clone();
    no_secret["ns-kub-pg-test"]
        .as_object_mut()
        .expect("namespace")
        .remove("postgres");
    let mut no_key = world.secrets.clone();
    no_key["ns-kub-pg-test"]["postgres"]
        .as_object_mut()
        .expect("secret")
        .remove("password");
    let missing = [
        (
            world.start_dag(
                "no-secret",
                &infrastructure_dag_id("YellowForensic"),
                &no_secret,
            ),
            "CreateContainerConfigError: secret \"postgres\" not found",
        ),
        (
            world.start_dag("no-key", &ingestion("YellowForensic"), &no_key),
            "CreateContainerConfigError: couldn't find key password in Secret ns-kub-pg-test/postgres",
        ),
    ];

    // The infrastructure DAG creates the platform's tables and views, as the pods' login.
    let run = world.run_dag(&infrastructure_dag_id("YellowLive"));
    run.assert_ended("success", "success");
    assert_eq!(
        run.pod()["args"],
        json!(["infra", "--platform", "YellowLive"])
    );
    let live_view = |dataset| {
        naming::view_name(
            "YellowLive",
            "Consumer1",
            "LiveDSG",
            "Store1",
            dataset,
            ViewKind::Live,
        )
    };
    let expected = [
        (naming::batch_counter_table("YellowLive"), "table"),
        (naming::batch_metrics_table("YellowLive"), "table"),
        (live_view("addresses"), "view"),
        (live_view("customers"), "view"),
        (
            naming::merge_table("YellowLive", "Store1", "addresses"),
            "table",
        ),
        (
            naming::staging_table("YellowLive", "Store1", "addresses"),
            "table",
        ),
        (
            naming::merge_table("YellowLive", "Store1", "customers"),
            "table",
        ),
        (
            naming::staging_table("YellowLive", "Store1", "customers"),
            "table",
        ),
    ];
    assert_eq!(
        relations(&world, "YellowLive").await,
        expected.map(|(name, kind)| format!("{name} {kind} {LOGIN}"))
    );

    // Each ingestion run commits a batch whose metrics are the source's changes, and the
    // workspace's views serve the source's rows.
    let mut before = BTreeMap::new();
    for (batch, changes) in [(1, None), (2, Some("40"))] {
        if let Some(changes) = changes {
            world.simulate(&["--seed", "2", "--max-changes", changes]);
        }
        let now = world.source_rows().await;
        let run = world.run_dag(&ingestion("YellowLive"));
        run.assert_ended("success", "success");
        assert!(
            run.log.contains(&format!(
                "[base] YellowLive Store1: batch {batch} committed"
            )),
            "each line the binary prints is a line of the task log:\n{}",
            run.log
        );
        assert_eq!(
            recorded(&world.batches("YellowLive")[&batch]),
            ("committed".to_owned(), metrics(&before, &now))
        );
        assert_eq!(world.served_rows("YellowLive", "LiveDSG").await, now);
        before = now;
    }

    // A stream another runner holds: the pod exits 75, the task is skipped and the DAG run
    // succeeds, with nothing done.
    let holder = world.merge().await;
    let lock = datasurface::codegen::sql::lock_id("YellowLive", Some("Store1"));
    let held: bool = holder
        .query_one("SELECT pg_try_advisory_lock($1)", &[&lock])
        .await
        .expect("lock")
        .get(0);
    assert!(held);
    world.simulate(&["--seed", "3", "--max-changes", "20"]);
    let batches = world.batches("YellowLive");
    let run = world.run_dag(&ingestion("YellowLive"));
    run.assert_ended("success", "skipped");
    assert_eq!(run.pod()["exit_code"], 75);
    assert!(
        run.log
            .contains("stream Store1 of YellowLive is being run by another process"),
        "{}",
        run.log
    );
    assert_eq!(world.batches("YellowLive"), batches);
    let released: bool = holder
        .query_one("SELECT pg_advisory_unlock($1)", &[&lock])
        .await
        .expect("unlock")
        .get(0);
    assert!(released);

    // A source that no longer matches the model fails the task and the DAG run, at the
    // first try; the batch stays open. Fixed, the next run completes it.
    let source = world.source().await;
    source
        .batch_execute("ALTER TABLE customers ALTER COLUMN email TYPE varchar(150)")
        .await
        .expect("widen");
    let run = world.run_dag(&ingestion("YellowLive"));
    run.assert_ended("failed", "failed");
    assert_eq!(run.pod()["exit_code"], 1);
    let open = &world.batches("YellowLive")[&3];
    assert_eq!(open["batch_status"], "started");
    assert!(
        open["state"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("customers") && e.contains("email")),
        "{open}"
    );
    source
        .batch_execute("ALTER TABLE customers ALTER COLUMN email TYPE varchar(100)")
        .await
        .expect("fix");
    let now = world.source_rows().await;
    world
        .run_dag(&ingestion("YellowLive"))
        .assert_ended("success", "success");
    assert_eq!(
        recorded(&world.batches("YellowLive")[&3]),
        ("committed".to_owned(), metrics(&before, &now))
    );
    assert_eq!(world.served_rows("YellowLive", "LiveDSG").await, now);

    // The forensic platform's DAGs: every generated DAG's pod has what the binary needs.
    for dag in [
        infrastructure_dag_id("YellowForensic"),
        ingestion("YellowForensic"),
    ] {
        world.run_dag(&dag).assert_ended("success", "success");
    }
    assert_eq!(
        recorded(&world.batches("YellowForensic")[&1]),
        ("committed".to_owned(), metrics(&BTreeMap::new(), &now))
    );
    assert_eq!(
        world.served_rows("YellowForensic", "ForensicDSG").await,
        now
    );

    for (started, waiting) in missing {
        let run = world.finish_dag(started);
        run.assert_ended("failed", "failed");
        assert_eq!(run.pod()["waiting"], waiting, "{}", run.report);
        assert_eq!(run.pod()["exit_code"], Value::Null);
    }

    for log in &world.logs {
        assert!(
            !log.contains(PASSWORD) && !log.contains(LOGIN),
            "a secret reached the task log:\n{log}"
        );
    }
    let _ = std::fs::remove_dir_all(&world.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dags_run_end_to_end_in_airflow_2() {
    airflow_runs_the_generated_dags("airflow2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dags_run_end_to_end_in_airflow_3() {
    airflow_runs_the_generated_dags("airflow3").await;
}
