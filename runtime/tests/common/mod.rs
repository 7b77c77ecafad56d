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

/// A server with a fresh source and merge database, connected to both.
pub struct Setup {
    pub pg: TestPg,
    pub src_db: String,
    pub merge_db: String,
    pub source: Client,
    pub merge: Client,
}

/// Starts a server and creates the two databases of a test.
pub async fn setup() -> Setup {
    let pg = TestPg::start();
    let (src_db, merge_db) = (pg.create_db("src").await, pg.create_db("merge").await);
    connect_setup(pg, src_db, merge_db).await
}

/// [`setup`], with a source and a merge database whose text sorts by two different ICU
/// collations: neither sorts like the other, nor by bytes.
pub async fn setup_collated() -> Setup {
    let pg = TestPg::start();
    let src_db = pg.create_collated_db("src", "en-US").await;
    let merge_db = pg.create_collated_db("merge", "sv-SE").await;
    connect_setup(pg, src_db, merge_db).await
}

async fn connect_setup(pg: TestPg, src_db: String, merge_db: String) -> Setup {
    let source = pg.connect(&src_db).await;
    let merge = pg.connect(&merge_db).await;
    Setup {
        pg,
        src_db,
        merge_db,
        source,
        merge,
    }
}

impl Setup {
    /// The test model over these databases, one MULTI_DATASET store of `datasets`.
    pub fn model(&self, datasets: Vec<DatasetSchema>) -> ValidEcosystem {
        model(
            &self.pg,
            &self.src_db,
            &self.merge_db,
            datasets,
            Consistency::MultiDataset,
        )
    }
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
    let merge_db = PostgresDatabase::new("MergeDB", merge).at(&pg.host, pg.port);
    let provider = YellowServiceProvider::new(
        "Test",
        "ns-test",
        merge_db,
        Credential::user_password("merge"),
    );
    Ecosystem::new("Test")
        .zone(
            GovernanceZone::new("Z").team(
                Team::new("t")
                    .datastore(store)
                    .workspace(Workspace::new("WS").dsg(live).dsg(forensic)),
            ),
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
