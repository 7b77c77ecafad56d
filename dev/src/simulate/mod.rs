//! The data change simulator: realistic changes to the source tables of one datastore,
//! one transaction per change, at random intervals — the model's own [`Scenario`] if it
//! has one, the [`Generic`] inserts, updates and deletes otherwise. Seeded runs make the
//! same changes; the keys of the source are held in memory, so a change costs the same on
//! a table of a million rows as on one of ten.

mod change;
mod error;
mod scenario;
mod values;

pub use change::{Change, Key, Row};
pub use error::SimulateError;
pub use scenario::{Generic, Kind, Made, Making, Scenario, Seed};

use change::{KeyChange, Table};
use datasurface_codegen::sql::catalog::{self, Relation};
use datasurface_codegen::sql::source;
use datasurface_codegen::sql::typed::TextRow;
use datasurface_engine::pg::{self, Exec, Settings};
use datasurface_model::{DatasetSchema, Store};
use indexmap::IndexSet;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_postgres::Client;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds between changes, drawn uniformly from this range.
    pub interval: (f64, f64),
    /// Stop after this many changes; run until stopped when `None`.
    pub max_changes: Option<u64>,
    /// Create the source tables (and the schema) when missing, and seed them when empty.
    pub create_tables: bool,
    pub verbose: bool,
    /// A seed makes the sequence of changes reproducible.
    pub seed: Option<u64>,
}

/// What a run of the simulator did, counted by kind of change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Per kind, in the scenario's order: its name and how many were made.
    pub counts: Vec<(String, u64)>,
    /// What `--create-tables` seeded an empty source with (not counted as changes).
    pub seeded: Option<String>,
}

impl Summary {
    /// The number of changes made.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} changes", self.total())?;
        let parts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// The simulator, connected to the source database of one datastore.
pub struct Simulator {
    settings: Settings,
    database: String,
    client: Client,
    tables: Vec<Table>,
    rng: StdRng,
    scenario: Box<dyn Scenario>,
    kinds: Vec<Kind>,
    verbose: bool,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("database", &self.database)
            .field("scenario", &self.scenario)
            .finish()
    }
}

const RECONNECT_ATTEMPTS: u32 = 10;

impl Simulator {
    /// Connects with `settings` (retrying while the server is unreachable) as the source of
    /// `datasets` in `schema`, creates and seeds the tables when asked, checks their shape
    /// and reads their keys. `database` is what messages call the database; `log` receives
    /// a line per change when `verbose`.
    pub async fn connect(
        settings: Settings,
        database: &str,
        schema: &str,
        datasets: &[&DatasetSchema],
        scenario: Box<dyn Scenario>,
        options: &Options,
        log: &mut dyn FnMut(&str),
    ) -> Result<(Simulator, Summary), SimulateError> {
        let client = reconnect(&settings).await?;
        let rng = match options.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        let kinds = scenario.kinds();
        let mut sim = Simulator {
            settings,
            database: database.to_owned(),
            client,
            tables: datasets.iter().map(|d| Table::new(schema, d)).collect(),
            rng,
            kinds,
            scenario,
            verbose: options.verbose,
        };
        let mut summary = sim.empty_summary();
        if options.create_tables {
            sim.create_tables(schema).await?;
        }
        sim.check_shape().await?;
        let mut empty = true;
        for table in &mut sim.tables {
            table.keys = sim
                .client
                .rows(&table.sql.keys, &())
                .await?
                .into_iter()
                .map(|TextRow(key)| key.into_iter().map(Option::unwrap_or_default).collect())
                .collect::<IndexSet<Key>>();
            table.next_key = table.keys.len() as u64 + 1;
            empty &= table.keys.is_empty();
        }
        if options.create_tables && empty {
            let seed = sim.scenario.seed();
            for (kind, times) in seed.changes {
                for _ in 0..times {
                    sim.apply(kind, log).await?;
                }
            }
            summary.seeded = Some(seed.what);
        }
        Ok((sim, summary))
    }

    /// A summary with every kind at zero.
    pub fn empty_summary(&self) -> Summary {
        Summary {
            counts: self.kinds.iter().map(|k| (k.name.clone(), 0)).collect(),
            seeded: None,
        }
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
            let kind = self.pick();
            let done = self.apply(kind, log).await?;
            if let Some((_, n)) = summary.counts.get_mut(done.kind) {
                *n += 1;
            }
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

    fn pick(&mut self) -> usize {
        let total: u32 = self.kinds.iter().map(|k| k.weight).sum();
        let mut roll = self.rng.random_range(0..total.max(1));
        for (i, kind) in self.kinds.iter().enumerate() {
            if roll < kind.weight {
                return i;
            }
            roll -= kind.weight;
        }
        0
    }

    /// Makes a change, reconnecting and making it again if the connection was lost.
    async fn apply(
        &mut self,
        kind: usize,
        log: &mut dyn FnMut(&str),
    ) -> Result<Made, SimulateError> {
        loop {
            match self.try_apply(kind).await {
                Err(SimulateError::Db(e)) if e.is_connection_error() || self.client.is_closed() => {
                    log(&format!(
                        "connection to {} lost; reconnecting",
                        self.database
                    ));
                    self.client = reconnect(&self.settings).await?;
                }
                Ok(made) => {
                    if self.verbose {
                        log(&made.line);
                    }
                    return Ok(made);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes one change in one transaction.
    async fn try_apply(&mut self, kind: usize) -> Result<Made, SimulateError> {
        let Simulator {
            client,
            tables,
            rng,
            scenario,
            ..
        } = self;
        let tx = pg::begin(client).await?;
        let mut change = Change {
            tx: &tx,
            tables,
            rng,
            keys: Vec::new(),
        };
        let made = scenario.make(kind, &mut change).await?;
        let keys = std::mem::take(&mut change.keys);
        drop(change);
        pg::commit(tx).await?;
        for key in keys {
            match key {
                KeyChange::Added(t, key) => {
                    self.tables[t].keys.insert(key);
                }
                KeyChange::Removed(t, key) => {
                    self.tables[t].keys.swap_remove(&key);
                }
            }
        }
        Ok(made)
    }

    async fn create_tables(&self, schema: &str) -> Result<(), SimulateError> {
        for (i, table) in self.tables.iter().enumerate() {
            if i == 0 && schema != "public" {
                self.client.run(&table.sql.create_schema).await?;
            }
            self.client.run(&table.sql.create_table).await?;
        }
        for sql in self.scenario.prepare() {
            self.client.run(&source::scenario_preparation(&sql)).await?;
        }
        Ok(())
    }

    async fn check_shape(&self) -> Result<(), SimulateError> {
        for table in &self.tables {
            let relation = Relation::in_schema(&table.schema, &table.dataset.name);
            let found: Vec<String> = self
                .client
                .rows(&catalog::columns(), &relation)
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect();
            if found.is_empty() {
                return Err(SimulateError::MissingTable {
                    table: table.dataset.name.clone(),
                    schema: table.schema.clone(),
                    database: self.database.clone(),
                    store: self.scenario.store().to_owned(),
                });
            }
            let missing: Vec<String> = table
                .dataset
                .columns
                .iter()
                .filter(|c| !found.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            if !missing.is_empty() {
                return Err(SimulateError::WrongShape {
                    table: table.dataset.name.clone(),
                    database: self.database.clone(),
                    store: self.scenario.store().to_owned(),
                    columns: missing,
                });
            }
        }
        Ok(())
    }
}

/// Connects, retrying with backoff while the server is unreachable.
async fn reconnect(settings: &Settings) -> Result<Client, SimulateError> {
    Ok(pg::connect_with(settings, RECONNECT_ATTEMPTS).await?)
}

/// The scenario for `store`: the model's own when it is for that store, the generic one
/// otherwise.
pub fn scenario_for(store: Store<'_>, own: &mut Option<Box<dyn Scenario>>) -> Box<dyn Scenario> {
    match own.take() {
        Some(s) if s.store() == store.model.name => s,
        other => {
            *own = other;
            let datasets: Vec<_> = store.model.datasets.iter().collect();
            Box::new(Generic::new(&store.model.name, &datasets))
        }
    }
}

/// Sets the returned flag on SIGINT or SIGTERM, so a run finishes its current change and
/// stops. The handlers are installed before this returns: a signal that arrives while the
/// caller is still busy (starting a database, say) is not lost, and does not kill the
/// process with what it started still running.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return stop;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        flag.store(true, Ordering::Relaxed);
    });
    stop
}
