//! The data change simulator: realistic business changes to the `customers` and
//! `addresses` tables of the MVP source, one transaction per change.

use fake::Fake;
use fake::faker::address::en::{BuildingNumber, CityName, StateAbbr, StreetName, ZipCode};
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::{FirstName, LastName};
use fake::faker::phone_number::en::PhoneNumber;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Transaction};

/// The tables the simulator works on, with the columns of the MVP model.
pub const SOURCE_DDL: &str = "\
CREATE TABLE IF NOT EXISTS customers (
    id varchar(20) PRIMARY KEY,
    firstname varchar(100) NOT NULL,
    lastname varchar(100) NOT NULL,
    dob date NOT NULL,
    email varchar(100),
    phone varchar(100),
    primaryaddressid varchar(20),
    billingaddressid varchar(20)
);
CREATE TABLE IF NOT EXISTS addresses (
    id varchar(20) PRIMARY KEY,
    customerid varchar(20) NOT NULL REFERENCES customers(id),
    streetname varchar(100) NOT NULL,
    city varchar(100) NOT NULL,
    state varchar(100) NOT NULL,
    zipcode varchar(30) NOT NULL
);";

const COLUMNS: [(&str, &[&str]); 2] = [
    (
        "customers",
        &[
            "id",
            "firstname",
            "lastname",
            "dob",
            "email",
            "phone",
            "primaryaddressid",
            "billingaddressid",
        ],
    ),
    (
        "addresses",
        &["id", "customerid", "streetname", "city", "state", "zipcode"],
    ),
];

/// One kind of change, with its weight among all changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    NewCustomer,
    UpdateCustomer,
    AddAddress,
    UpdateAddress,
    DeleteAddress,
}

impl Change {
    const WEIGHTED: [(Change, u32); 5] = [
        (Change::NewCustomer, 15),
        (Change::UpdateCustomer, 25),
        (Change::AddAddress, 20),
        (Change::UpdateAddress, 30),
        (Change::DeleteAddress, 10),
    ];
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::NewCustomer => "new customer",
            Change::UpdateCustomer => "customer update",
            Change::AddAddress => "new address",
            Change::UpdateAddress => "address update",
            Change::DeleteAddress => "address delete",
        })
    }
}

/// Why the simulator stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(
        "cannot reach database {database} at {host}:{port} after {attempts} attempts: {source}"
    )]
    Unreachable {
        database: String,
        host: String,
        port: u16,
        attempts: u32,
        source: tokio_postgres::Error,
    },
    #[error(
        "table {table} not found in database {database}; the simulator works on the customers and addresses \
         tables of the MVP model (run with --create-tables to create them)"
    )]
    MissingTable { table: String, database: String },
    #[error(
        "table {table} of database {database} lacks column(s) {}; the simulator works on the customers and \
         addresses tables of the MVP model",
        .columns.join(", ")
    )]
    WrongShape {
        table: String,
        database: String,
        columns: Vec<String>,
    },
    #[error("{what}: {}", crate::batch::describe(.source))]
    Sql {
        what: String,
        source: tokio_postgres::Error,
    },
}

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds between changes, drawn uniformly from this range.
    pub interval: (f64, f64),
    /// Stop after this many changes; run until stopped when `None`.
    pub max_changes: Option<u64>,
    pub create_tables: bool,
    pub verbose: bool,
    /// A seed makes the sequence of changes reproducible.
    pub seed: Option<u64>,
}

/// What a run of the simulator did, counted by kind of change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub counts: BTreeMap<Change, u64>,
    /// Customers created by `--create-tables` seeding (not counted as changes).
    pub seeded: u64,
}

impl Summary {
    /// The number of changes made.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} changes", self.total())?;
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// The simulator, connected to one source database.
pub struct Simulator {
    config: Config,
    client: Client,
    rng: StdRng,
    next_customer: u64,
    next_address: u64,
    verbose: bool,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("database", &self.config.get_dbname())
            .finish()
    }
}

const RECONNECT_ATTEMPTS: u32 = 10;

impl Simulator {
    /// Connects (retrying while the server is unreachable), creates the tables when asked,
    /// and checks their shape. `log` receives a line per change when `verbose`.
    pub async fn connect(
        config: Config,
        options: &Options,
        log: &mut dyn FnMut(&str),
    ) -> Result<(Simulator, Summary), SimulateError> {
        let client = reconnect(&config).await?;
        let rng = match options.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        let mut sim = Simulator {
            config,
            client,
            rng,
            next_customer: 0,
            next_address: 0,
            verbose: options.verbose,
        };
        let mut summary = Summary::default();
        if options.create_tables {
            sim.client
                .batch_execute(SOURCE_DDL)
                .await
                .map_err(|e| sql("create the customers and addresses tables", e))?;
        }
        sim.check_shape().await?;
        sim.next_customer = sim.max_id("customers", 'C').await?;
        sim.next_address = sim.max_id("addresses", 'A').await?;
        if options.create_tables && sim.count("SELECT count(*) FROM customers").await? == 0 {
            for _ in 0..5 {
                sim.apply(Change::NewCustomer, log).await?;
                summary.seeded += 1;
            }
        }
        Ok((sim, summary))
    }

    /// Makes changes until `max_changes` is reached or `stop` is set, waiting between them;
    /// `log` receives a line per change when `verbose`, and reconnection notices.
    pub async fn run(
        &mut self,
        options: &Options,
        stop: &AtomicBool,
        summary: &mut Summary,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), SimulateError> {
        let mut made = 0;
        while options.max_changes.is_none_or(|max| made < max) && !stop.load(Ordering::Relaxed) {
            let change = self.pick();
            let done = self.apply_retrying(change, log).await?;
            *summary.counts.entry(done).or_default() += 1;
            made += 1;
            if options.max_changes.is_some_and(|max| made >= max) {
                break;
            }
            let (lo, hi) = options.interval;
            let wait = if hi > lo {
                self.rng.random_range(lo..=hi)
            } else {
                lo
            };
            let mut left = Duration::from_secs_f64(wait);
            // Wake up now and then to notice a stop request.
            while !left.is_zero() && !stop.load(Ordering::Relaxed) {
                let step = left.min(Duration::from_millis(100));
                tokio::time::sleep(step).await;
                left -= step;
            }
        }
        Ok(())
    }

    fn pick(&mut self) -> Change {
        let total: u32 = Change::WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (change, weight) in Change::WEIGHTED {
            if roll < weight {
                return change;
            }
            roll -= weight;
        }
        Change::UpdateAddress
    }

    /// Applies a change, reconnecting and retrying it if the connection was lost.
    async fn apply_retrying(
        &mut self,
        change: Change,
        log: &mut dyn FnMut(&str),
    ) -> Result<Change, SimulateError> {
        loop {
            match self.apply(change, log).await {
                Err(SimulateError::Sql { source, .. })
                    if is_connection_error(&source) || self.client.is_closed() =>
                {
                    let line = format!("connection to {} lost; reconnecting", self.database());
                    log(&line);
                    self.client = reconnect(&self.config).await?;
                }
                other => return other,
            }
        }
    }

    /// Applies one change in one transaction; returns the change actually made (one that
    /// has nothing to work on falls back to another).
    async fn apply(
        &mut self,
        change: Change,
        log: &mut dyn FnMut(&str),
    ) -> Result<Change, SimulateError> {
        let customers = self.count("SELECT count(*) FROM customers").await?;
        let change = if customers == 0 {
            Change::NewCustomer
        } else {
            change
        };
        let mut ids = (self.next_customer, self.next_address);
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| sql("begin", e))?;
        let (done, line) = make(&tx, &mut self.rng, &mut ids, change, customers).await?;
        tx.commit().await.map_err(|e| sql("commit", e))?;
        (self.next_customer, self.next_address) = ids;
        if self.verbose {
            log(&line);
        }
        Ok(done)
    }

    async fn count(&self, query: &str) -> Result<i64, SimulateError> {
        Ok(self
            .client
            .query_one(query, &[])
            .await
            .map_err(|e| sql("count rows", e))?
            .get(0))
    }

    /// The highest number used in the ids of `table` (`C00000012` → 12), so new ids never
    /// collide with existing ones.
    async fn max_id(&self, table: &str, prefix: char) -> Result<u64, SimulateError> {
        let query = format!(
            "SELECT coalesce(max(substr(id, 2)::bigint), 0) FROM {table} WHERE id ~ '^{prefix}[0-9]{{1,18}}$'"
        );
        let max: i64 = self
            .client
            .query_one(&query, &[])
            .await
            .map_err(|e| sql("find the highest id", e))?
            .get(0);
        Ok(u64::try_from(max).unwrap_or(0))
    }

    async fn check_shape(&self) -> Result<(), SimulateError> {
        for (table, columns) in COLUMNS {
            let found: Vec<String> = self
                .client
                .query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
                    &[&table],
                )
                .await
                .map_err(|e| sql("read the source tables' columns", e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if found.is_empty() {
                return Err(SimulateError::MissingTable {
                    table: table.into(),
                    database: self.database(),
                });
            }
            let missing: Vec<String> = columns
                .iter()
                .filter(|c| !found.iter().any(|f| f == *c))
                .map(|c| c.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(SimulateError::WrongShape {
                    table: table.into(),
                    database: self.database(),
                    columns: missing,
                });
            }
        }
        Ok(())
    }

    fn database(&self) -> String {
        self.config.get_dbname().unwrap_or("").to_owned()
    }
}

/// Makes one change inside `tx`; `ids` holds the last customer and address numbers used.
async fn make(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    ids: &mut (u64, u64),
    change: Change,
    customers: i64,
) -> Result<(Change, String), SimulateError> {
    match change {
        Change::NewCustomer => {
            ids.0 += 1;
            ids.1 += 1;
            let (id, address) = (format!("C{:08}", ids.0), format!("A{:08}", ids.1));
            let first: String = FirstName().fake_with_rng(rng);
            let last: String = LastName().fake_with_rng(rng);
            let email: String = SafeEmail().fake_with_rng(rng);
            let phone: String = PhoneNumber().fake_with_rng(rng);
            let dob = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("a valid date")
                + chrono::Days::new(rng.random_range(0..23_000));
            tx.execute(
                "INSERT INTO customers (id, firstname, lastname, dob, email, phone) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &first, &last, &dob, &email, &phone],
            )
            .await
            .map_err(|e| sql("insert a customer", e))?;
            insert_address(tx, rng, &address, &id).await?;
            tx.execute(
                "UPDATE customers SET primaryaddressid = $2, billingaddressid = $2 WHERE id = $1",
                &[&id, &address],
            )
            .await
            .map_err(|e| sql("set the customer's addresses", e))?;
            Ok((
                change,
                format!("new customer {id} ({first} {last}) with address {address}"),
            ))
        }
        Change::UpdateCustomer => {
            let id = pick_row(tx, rng, "SELECT id FROM customers ORDER BY id", customers).await?;
            let email: String = SafeEmail().fake_with_rng(rng);
            let phone: String = PhoneNumber().fake_with_rng(rng);
            let (text, params, what): (&str, Vec<&(dyn ToSql + Sync)>, &str) =
                match rng.random_range(0..3) {
                    0 => (
                        "UPDATE customers SET email = $2 WHERE id = $1",
                        vec![&id, &email],
                        "email",
                    ),
                    1 => (
                        "UPDATE customers SET phone = $2 WHERE id = $1",
                        vec![&id, &phone],
                        "phone",
                    ),
                    _ => (
                        "UPDATE customers SET email = $2, phone = $3 WHERE id = $1",
                        vec![&id, &email, &phone],
                        "email and phone",
                    ),
                };
            tx.execute(text, &params)
                .await
                .map_err(|e| sql("update a customer", e))?;
            Ok((change, format!("customer {id}: new {what}")))
        }
        Change::AddAddress => {
            let id = pick_row(tx, rng, "SELECT id FROM customers ORDER BY id", customers).await?;
            ids.1 += 1;
            let address = format!("A{:08}", ids.1);
            insert_address(tx, rng, &address, &id).await?;
            let billing = rng.random_range(0..100) < 30;
            if billing {
                tx.execute(
                    "UPDATE customers SET billingaddressid = $2 WHERE id = $1",
                    &[&id, &address],
                )
                .await
                .map_err(|e| sql("set a billing address", e))?;
            }
            Ok((
                change,
                format!(
                    "customer {id}: new address {address}{}",
                    if billing { " (billing)" } else { "" }
                ),
            ))
        }
        Change::UpdateAddress | Change::DeleteAddress => {
            let deletable = "SELECT a.id FROM addresses a JOIN customers c ON c.id = a.customerid \
                WHERE a.id IS DISTINCT FROM c.primaryaddressid AND a.id IS DISTINCT FROM c.billingaddressid \
                AND (SELECT count(*) FROM addresses x WHERE x.customerid = a.customerid) > 1 ORDER BY a.id";
            let candidates = if change == Change::DeleteAddress {
                count(tx, &format!("SELECT count(*) FROM ({deletable}) AS d")).await?
            } else {
                0
            };
            if candidates > 0 {
                let id = pick_row(tx, rng, deletable, candidates).await?;
                tx.execute("DELETE FROM addresses WHERE id = $1", &[&id])
                    .await
                    .map_err(|e| sql("delete an address", e))?;
                return Ok((Change::DeleteAddress, format!("address {id} deleted")));
            }
            // Nothing to delete: change an address instead.
            let addresses = count(tx, "SELECT count(*) FROM addresses").await?;
            let id = pick_row(tx, rng, "SELECT id FROM addresses ORDER BY id", addresses).await?;
            let (street, city, state, zip) = fake_address(rng);
            let (text, params, what): (&str, Vec<&(dyn ToSql + Sync)>, &str) =
                match rng.random_range(0..3) {
                    0 => (
                        "UPDATE addresses SET streetname = $2 WHERE id = $1",
                        vec![&id, &street],
                        "street",
                    ),
                    1 => (
                        "UPDATE addresses SET city = $2, state = $3, zipcode = $4 WHERE id = $1",
                        vec![&id, &city, &state, &zip],
                        "city, state and zip",
                    ),
                    _ => (
                        "UPDATE addresses SET zipcode = $2 WHERE id = $1",
                        vec![&id, &zip],
                        "zip",
                    ),
                };
            tx.execute(text, &params)
                .await
                .map_err(|e| sql("update an address", e))?;
            Ok((Change::UpdateAddress, format!("address {id}: new {what}")))
        }
    }
}

fn fake_address(rng: &mut StdRng) -> (String, String, String, String) {
    let number: String = BuildingNumber().fake_with_rng(rng);
    let street: String = StreetName().fake_with_rng(rng);
    (
        format!("{number} {street}"),
        CityName().fake_with_rng(rng),
        StateAbbr().fake_with_rng(rng),
        ZipCode().fake_with_rng(rng),
    )
}

async fn insert_address(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    address: &str,
    customer: &str,
) -> Result<(), SimulateError> {
    let (street, city, state, zip) = fake_address(rng);
    tx.execute(
        "INSERT INTO addresses (id, customerid, streetname, city, state, zipcode) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&address, &customer, &street, &city, &state, &zip],
    )
    .await
    .map_err(|e| sql("insert an address", e))?;
    Ok(())
}

/// One row of `query` (ordered, so a seed picks the same row), chosen by the generator.
async fn pick_row(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    query: &str,
    count: i64,
) -> Result<String, SimulateError> {
    let offset = rng.random_range(0..count.max(1));
    let row = tx
        .query_one(&format!("{query} OFFSET $1 LIMIT 1"), &[&offset])
        .await
        .map_err(|e| sql("pick a row", e))?;
    Ok(row.get(0))
}

async fn count(tx: &Transaction<'_>, query: &str) -> Result<i64, SimulateError> {
    Ok(tx
        .query_one(query, &[])
        .await
        .map_err(|e| sql("count rows", e))?
        .get(0))
}

fn sql(what: &str, source: tokio_postgres::Error) -> SimulateError {
    SimulateError::Sql {
        what: what.to_owned(),
        source,
    }
}

/// Errors that mean the connection, not the change, failed: retry after reconnecting.
fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
        }
        None => e.is_closed(),
    }
}

/// Connects, retrying with backoff (0.25 s doubling to 4 s) while the server is unreachable.
async fn reconnect(config: &Config) -> Result<Client, SimulateError> {
    let mut delay = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                return Ok(client);
            }
            Err(e) if attempt >= RECONNECT_ATTEMPTS => {
                let (host, port) = crate::pg::host_port(config);
                return Err(SimulateError::Unreachable {
                    database: config.get_dbname().unwrap_or("").to_owned(),
                    host,
                    port,
                    attempts: attempt,
                    source: e,
                });
            }
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
        }
    }
}

/// Sets `stop` on SIGINT or SIGTERM, so a run finishes its current change and stops.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        flag.store(true, Ordering::Relaxed);
    });
    stop
}
