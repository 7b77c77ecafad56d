//! Test support: a real PostgreSQL (a throwaway server, or the one named by
//! `DATASURFACE_TEST_PG`), fresh databases per test, and a small `people` model.

#![allow(dead_code, unreachable_pub)]

use datasurface::dev::postgres::ThrowawayPostgres;
use datasurface::engine::{BatchRecord, Engine, Error, Outcome, Plan, Rewind, RunOptions};
use datasurface::pg::Environment;
use datasurface::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_postgres::{Client, NoTls};

/// A PostgreSQL server for one test.
pub struct TestPg {
    _throwaway: Option<ThrowawayPostgres>,
    pub host: String,
    pub port: u16,
}

impl TestPg {
    /// The server named by `DATASURFACE_TEST_PG` (`host:port`, trust auth as `postgres`), or
    /// a new throwaway server.
    pub fn start() -> TestPg {
        if let Ok(addr) = std::env::var("DATASURFACE_TEST_PG") {
            let (host, port) = addr
                .rsplit_once(':')
                .expect("DATASURFACE_TEST_PG is host:port");
            return TestPg {
                _throwaway: None,
                host: host.into(),
                port: port.parse().expect("port"),
            };
        }
        let throwaway = ThrowawayPostgres::start().expect("start a throwaway PostgreSQL");
        TestPg {
            port: throwaway.port(),
            host: "127.0.0.1".into(),
            _throwaway: Some(throwaway),
        }
    }

    /// A server started elsewhere (by the test itself).
    pub fn at(host: &str, port: u16) -> TestPg {
        TestPg {
            _throwaway: None,
            host: host.into(),
            port,
        }
    }

    pub fn throwaway(&self) -> Option<&ThrowawayPostgres> {
        self._throwaway.as_ref()
    }

    /// Creates a database with a name unique to this process and test.
    pub async fn create_db(&self, prefix: &str) -> String {
        self.create_db_with(prefix, "").await
    }

    /// Creates a database whose text sorts by the ICU collation of `locale` (`en-US`,
    /// `sv-SE`), not by bytes.
    pub async fn create_collated_db(&self, prefix: &str, locale: &str) -> String {
        self.create_db_with(
            prefix,
            &format!(
                " TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE '{locale}' LOCALE 'C.utf8'"
            ),
        )
        .await
    }

    async fn create_db_with(&self, prefix: &str, options: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = self.connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}{options}"))
            .await
            .expect("create database");
        name
    }

    pub async fn connect(&self, db: &str) -> Client {
        let url = format!("postgres://postgres@{}:{}/{db}", self.host, self.port);
        let (client, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// The environment the runtime needs for the test model's credentials.
    pub fn env(&self) -> Environment {
        Environment::new()
            .set("src_USER", "postgres")
            .set("merge_USER", "postgres")
    }
}

/// A test's world, set up: a server with a fresh source and merge database, connected to
/// both, the test model over them (`eco`), and the environment batches run with (`env`).
/// Made by [`Scenario::people`] or [`Scenario::of`], which say what the source holds.
pub struct Scenario {
    pub pg: TestPg,
    pub src_db: String,
    pub merge_db: String,
    pub source: Client,
    pub merge: Client,
    pub eco: ValidEcosystem,
    pub env: Environment,
}

/// What a [`Scenario`] starts with: the model's datasets, how its store is captured, how
/// the databases sort text, and the statements the source runs first.
pub struct Given {
    datasets: Vec<DatasetSchema>,
    consistency: Consistency,
    collated: bool,
    source: Vec<String>,
}

impl Scenario {
    /// The `people` model, its source table created (and empty).
    pub fn people() -> Given {
        Scenario::of(vec![people()]).source(PEOPLE_DDL)
    }

    /// A model of one MULTI_DATASET store of `datasets`; the source has no table yet.
    pub fn of(datasets: Vec<DatasetSchema>) -> Given {
        Given {
            datasets,
            consistency: Consistency::MultiDataset,
            collated: false,
            source: Vec::new(),
        }
    }
}

impl Given {
    /// The store is captured with `consistency` instead.
    pub fn consistency(mut self, consistency: Consistency) -> Given {
        self.consistency = consistency;
        self
    }

    /// The source and the merge database sort text by two different ICU collations:
    /// neither sorts like the other, nor by bytes.
    pub fn collated(mut self) -> Given {
        self.collated = true;
        self
    }

    /// A statement the source runs before the test starts (tables, rows), after those
    /// given before it.
    pub fn source(mut self, sql: impl Into<String>) -> Given {
        self.source.push(sql.into());
        self
    }

    /// Starts a server, creates the two databases and runs the source's statements.
    pub async fn start(self) -> Scenario {
        let pg = TestPg::start();
        let (src_db, merge_db) = if self.collated {
            (
                pg.create_collated_db("src", "en-US").await,
                pg.create_collated_db("merge", "sv-SE").await,
            )
        } else {
            (pg.create_db("src").await, pg.create_db("merge").await)
        };
        let source = pg.connect(&src_db).await;
        let merge = pg.connect(&merge_db).await;
        for sql in &self.source {
            source.batch_execute(sql).await.expect(sql);
        }
        let eco = model(&pg, &src_db, &merge_db, self.datasets, self.consistency);
        let env = pg.env();
        Scenario {
            pg,
            src_db,
            merge_db,
            source,
            merge,
            eco,
            env,
        }
    }
}

impl Scenario {
    /// Another model over these databases, one MULTI_DATASET store of `datasets`.
    pub fn model(&self, datasets: Vec<DatasetSchema>) -> ValidEcosystem {
        model(
            &self.pg,
            &self.src_db,
            &self.merge_db,
            datasets,
            Consistency::MultiDataset,
        )
    }

    /// [`Scenario::model`], before validation, for tests that change it first.
    pub fn ecosystem(&self, datasets: Vec<DatasetSchema>) -> Ecosystem {
        ecosystem(
            &self.pg,
            &self.src_db,
            &self.merge_db,
            datasets,
            Consistency::MultiDataset,
        )
    }

    /// Runs `sql` on the source: rows arrive, change or go, or the tables change.
    pub async fn change_source(&self, sql: &str) {
        self.source.batch_execute(sql).await.expect(sql);
    }

    /// One batch of `Store1` on `platform` with the scenario's model, default options.
    pub async fn batch(&self, platform: &str) -> Result<Outcome, Error> {
        one_batch(&self.eco, platform, None, &self.env).await
    }

    /// [`Scenario::batch`] with `options`.
    pub async fn batch_with(&self, platform: &str, options: &RunOptions) -> Result<Outcome, Error> {
        run_batch(&self.eco, platform, "Store1", None, options, &self.env).await
    }

    /// Runs a batch of `platform` whose merge cannot write the people merge table (another
    /// session holds a lock that lets reads go on and makes writes wait; the runner gives
    /// up after 300 ms), leaving the batch `ingested`; returns the batch's error.
    pub async fn batch_with_merge_blocked(&self, platform: &str) -> Error {
        let url = format!(
            "postgres://postgres@{}:{}/{}?options=-c%20lock_timeout%3D300",
            self.pg.host, self.pg.port, self.merge_db
        );
        let blocked = self.env.clone().set("DATASURFACE_DB_MERGEDB", url);
        let mut holder = self.pg.connect(&self.merge_db).await;
        let tx = holder.transaction().await.expect("begin");
        let table = naming::merge_table(platform, "Store1", "people");
        tx.batch_execute(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .await
            .expect("lock");
        let err = one_batch(&self.eco, platform, None, &blocked)
            .await
            .expect_err("merge blocked");
        tx.rollback().await.expect("release");
        err
    }

    /// The one number `sql` selects in the merge database.
    pub async fn count(&self, sql: &str) -> i64 {
        count(&self.merge, sql).await
    }

    /// The last batch of `Store1` on `platform` and its status, from the metrics table.
    pub async fn last_status(&self, platform: &str) -> (i32, String) {
        last_status(&self.merge, platform).await
    }

    /// A query of `columns` of the current rows of `dataset` on `platform`: every row of a
    /// live merge table, the open versions of a forensic one.
    pub fn current_rows(&self, platform: &str, dataset: &str, columns: &str) -> String {
        let table = naming::merge_table(platform, "Store1", dataset);
        let mode = self
            .eco
            .model()
            .find_platform(platform)
            .expect("a platform of the model")
            .mode;
        match mode {
            PlatformMode::Live => format!("SELECT {columns} FROM {table}"),
            PlatformMode::Forensic => {
                format!("SELECT {columns} FROM {table} WHERE ds_surf_batch_out = 2147483647")
            }
        }
    }
}

/// The one number `sql` selects.
pub async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

/// The last batch of `Store1` on `platform` and its status, from the metrics table.
pub async fn last_status(client: &Client, platform: &str) -> (i32, String) {
    let table = naming::batch_metrics_table(platform);
    let row = client
        .query_one(
            &format!(
                "SELECT batch_id, batch_status FROM {table} WHERE key = $1 ORDER BY batch_id DESC LIMIT 1"
            ),
            &[&"Store1"],
        )
        .await
        .expect("metrics row");
    (row.get(0), row.get(1))
}

/// The rows of `sql` as text (`(1,billy,…)`), sorted.
pub async fn text_rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .query(&format!("SELECT t::text FROM ({sql}) AS t ORDER BY 1"), &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The `people` dataset of the lifecycle tests.
pub fn people() -> DatasetSchema {
    DatasetSchema::new("people")
        .column(Column::new("id", DataType::Integer))
        .column(Column::new("firstName", DataType::Varchar(50)))
        .column(Column::new("lastName", DataType::Varchar(50)))
        .column(Column::new("dob", DataType::Date))
        .column(Column::nullable("employer", DataType::Varchar(50)))
        .column(Column::nullable("dod", DataType::Date))
        .key(["id"])
        .classified(Classification::Personal)
}

/// Three people of the source.
pub const THREE_PEOPLE: &str = "INSERT INTO people VALUES \
    (1, 'Billy', 'Newport', '1970-01-01', 'Acme', NULL), \
    (2, 'Laura', 'Diaz', '1975-02-02', 'Acme', NULL), \
    (3, 'Sam', 'Stone', '1980-03-03', NULL, NULL)";

/// Five people of the source: [`THREE_PEOPLE`] and two more.
pub const FIVE_PEOPLE: &str = "INSERT INTO people VALUES \
    (1, 'Billy', 'Newport', '1970-01-01', 'Acme', NULL), \
    (2, 'Laura', 'Diaz', '1975-02-02', 'Acme', NULL), \
    (3, 'Sam', 'Stone', '1980-03-03', NULL, NULL), \
    (4, 'Ana', 'Ruiz', '1985-04-04', 'Initech', NULL), \
    (5, 'Tom', 'Li', '1990-05-05', 'Globex', NULL)";

pub const PEOPLE_DDL: &str = r#"CREATE TABLE people (
    id integer PRIMARY KEY,
    "firstName" varchar(50) NOT NULL,
    "lastName" varchar(50) NOT NULL,
    dob date NOT NULL,
    employer varchar(50),
    dod date
)"#;

/// A model with one store of `datasets` in database `source` and both Yellow platforms
/// in database `merge`, on `pg`.
pub fn model(
    pg: &TestPg,
    source: &str,
    merge: &str,
    datasets: Vec<DatasetSchema>,
    consistency: Consistency,
) -> ValidEcosystem {
    ecosystem(pg, source, merge, datasets, consistency)
        .validate()
        .expect("valid test model")
}

/// [`model`], before validation, for tests that change it first.
pub fn ecosystem(
    pg: &TestPg,
    source: &str,
    merge: &str,
    datasets: Vec<DatasetSchema>,
    consistency: Consistency,
) -> Ecosystem {
    let src = PostgresDatabase::new("SourceDB", source).at(&pg.host, pg.port);
    let mut store = Datastore::new("Store1").capture(
        SqlSnapshot::new(src, Credential::user_password("src"), "*/5 * * * *")
            .consistency(consistency),
    );
    for d in datasets {
        store = store.dataset_schema(d);
    }
    let mut live = DatasetGroup::new("LiveDSG", Retention::LiveOnly);
    let mut forensic = DatasetGroup::new("ForensicDSG", Retention::Forensic);
    for d in &store.datasets {
        live = live.sink_named("Store1", d.name.clone());
        forensic = forensic.sink_named("Store1", d.name.clone());
    }
    platforms(pg, merge, vec![store], live, forensic)
}

/// The test ecosystem `Test` around `stores`: workspace `WS` reads `live` on YellowLive and
/// `forensic` on YellowForensic, both platforms on database `merge` of `pg`.
pub fn platforms(
    pg: &TestPg,
    merge: &str,
    stores: Vec<Datastore>,
    live: DatasetGroup,
    forensic: DatasetGroup,
) -> Ecosystem {
    let merge_db = PostgresDatabase::new("MergeDB", merge).at(&pg.host, pg.port);
    let provider = YellowServiceProvider::new(
        "Test",
        "ns-test",
        merge_db,
        Credential::user_password("merge"),
    );
    let team = stores.into_iter().fold(Team::new("t"), Team::datastore);
    Ecosystem::new("Test")
        .zone(
            GovernanceZone::new("Z")
                .team(team.workspace(Workspace::new("WS").dsg(live).dsg(forensic))),
        )
        .platform(YellowPlatform::live("YellowLive", &provider))
        .platform(YellowPlatform::forensic("YellowForensic", &provider))
        .provider(provider)
        .assign(Assignment::new("WS", "LiveDSG", "YellowLive"))
        .assign(Assignment::new("WS", "ForensicDSG", "YellowForensic"))
}

/// One batch of `Store1` on `platform`, with default options.
pub async fn one_batch(
    eco: &ValidEcosystem,
    platform: &str,
    dataset: Option<&str>,
    env: &Environment,
) -> Result<Outcome, Error> {
    run_batch(
        eco,
        platform,
        "Store1",
        dataset,
        &RunOptions::default(),
        env,
    )
    .await
}

/// `run` of the stream a command line names.
pub async fn run_batch(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    options: &RunOptions,
    env: &Environment,
) -> Result<Outcome, Error> {
    let stream = eco.stream(platform, store, dataset)?;
    Engine::new(eco, env).run(&stream, options).await
}

/// `reset-batch` of the stream a command line names.
pub async fn reset_batch(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    env: &Environment,
) -> Result<i32, Error> {
    let stream = eco.stream(platform, store, dataset)?;
    Engine::new(eco, env).reset(&stream).await
}

/// `reset-batch --to-batch` of the stream a command line names.
pub async fn rewind(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    to_batch: i32,
    dry_run: bool,
    env: &Environment,
) -> Result<Rewind, Error> {
    let stream = eco.stream(platform, store, dataset)?;
    Engine::new(eco, env)
        .rewind(&stream, to_batch, dry_run)
        .await
}

/// `status` of a platform, or of one store's streams.
pub async fn history(
    eco: &ValidEcosystem,
    platform: &str,
    store: Option<&str>,
    limit: i64,
    env: &Environment,
) -> Result<Vec<BatchRecord>, Error> {
    let store = store.map(|s| eco.store(s)).transpose()?;
    Engine::new(eco, env)
        .status(eco.platform(platform)?, store, limit)
        .await
}

/// `infra` of a platform.
pub async fn infra(
    eco: &ValidEcosystem,
    platform: &str,
    plan_only: bool,
    env: &Environment,
) -> Result<Plan, Error> {
    Engine::new(eco, env)
        .infra(eco.platform(platform)?, plan_only)
        .await
}

/// The metrics of a committed batch as (inserted, updated, deleted, total).
pub fn counts(outcome: &Outcome) -> (u64, u64, u64, u64) {
    let m = outcome.metrics;
    (m.inserted, m.updated, m.deleted, m.total)
}

/// A GET of `path` from an HTTP server on `addr`, over a fresh connection: the status and
/// the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    // HTTP/1.0: the whole body, never chunked, then the connection closes.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("receive");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}
