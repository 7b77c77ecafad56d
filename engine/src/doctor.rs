//! `doctor`: everything the model needs before a batch can run, checked one by one, each
//! failure with what to do — like `dbt debug`. Nothing is changed.

use super::ingest::check_source;
use super::session::Engine;
use super::source::{self, Names, SlotLag, SourceAction, readable_bytes};
use crate::pg::{self, Exec, Settings};
use datasurface_codegen::sql::catalog::{self, Relation, Schema};
use datasurface_codegen::sql::replication::{
    self as sql, ReplicaIdentity, ReplicationSlot, SlotState,
};
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{SORT_MEMORY_BYTES, SourceOrder, SourceTable};
use datasurface_model::{Credential, PostgresDatabase, Stream, naming};
use std::collections::{HashMap, HashSet};
use tokio_postgres::Client;

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What was checked: a database, a platform, a source table.
    pub subject: String,
    /// Which check.
    pub check: &'static str,
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure, or about a warning.
    pub fix: Option<String>,
    /// Passed, but with a risk worth knowing (an unlimited `max_slot_wal_keep_size`, say).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

impl Check {
    fn ok(subject: &str, check: &'static str, detail: String) -> Check {
        Check {
            subject: subject.to_owned(),
            check,
            ok: true,
            detail,
            fix: None,
            warning: false,
        }
    }

    fn warn(subject: &str, check: &'static str, detail: String, fix: String) -> Check {
        Check {
            subject: subject.to_owned(),
            check,
            ok: true,
            detail,
            fix: Some(fix),
            warning: true,
        }
    }

    fn failed(subject: &str, check: &'static str, detail: String, fix: String) -> Check {
        Check {
            subject: subject.to_owned(),
            check,
            ok: false,
            detail,
            fix: Some(fix),
            warning: false,
        }
    }
}

impl Engine<'_> {
    /// Checks every database of the model — its settings and credential, the connection,
    /// the privileges a batch needs — and every source table against the model.
    pub async fn doctor(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let mut connected: HashMap<String, Client> = HashMap::new();
        for (db, credential) in self.eco.databases() {
            if let Some(client) = self.check_database(db, credential, &mut checks).await {
                connected.insert(db.name.clone(), client);
            }
        }
        let mut checkpoints_checked = HashSet::new();
        for platform in self.eco.platforms() {
            let db = &platform.provider.merge_database;
            let subject = format!("platform {}", platform.model.name);
            let Some(client) = connected.get(&db.name) else {
                continue;
            };
            // Once per merge database, however many platforms share it.
            if checkpoints_checked.insert(db.name.as_str()) {
                checks.push(checkpoints_check(client, &format!("database {}", db.name)).await);
            }
            let public = Schema { schema: "public" };
            match client.row(&catalog::can_create_in(), &public).await {
                Ok(Single(true)) => checks.push(Check::ok(
                    &subject,
                    "privileges",
                    format!("may create its tables in {}", db.name),
                )),
                Ok(_) => checks.push(Check::failed(
                    &subject,
                    "privileges",
                    format!("may not create tables in schema public of {}", db.name),
                    {
                        let (user, database) = session_of(client).await;
                        format!("GRANT USAGE, CREATE ON SCHEMA public TO {user} (in database {database})")
                    },
                )),
                Err(e) => checks.push(Check::failed(
                    &subject,
                    "privileges",
                    e.to_string(),
                    retry(),
                )),
            }
            checks.push(match self.plan_infra(platform, true, false).await {
                Ok(plan) if plan.statements.is_empty() => {
                    Check::ok(&subject, "tables", "up to date with the model".into())
                }
                Ok(plan) => Check::failed(
                    &subject,
                    "tables",
                    format!(
                        "{} statements to run (infra --plan lists them)",
                        plan.statements.len()
                    ),
                    format!("run infra --platform {}", platform.model.name),
                ),
                Err(e) => Check::failed(
                    &subject,
                    "tables",
                    e.to_string(),
                    "see docs/infra.md for changes infra refuses".into(),
                ),
            });
        }
        for store in self.eco.stores() {
            let capture = store.capture;
            let Some(client) = connected.get(&capture.database.name) else {
                continue;
            };
            for dataset in &store.model.datasets {
                let table = SourceTable::new(&capture.schema, &dataset.name);
                let subject = format!("source table {}", table.name);
                match check_source(client, &capture.database.name, dataset, &table).await {
                    Ok(problems) if problems.is_empty() => {
                        checks.push(Check::ok(&subject, "matches the model", format!("{} columns", dataset.columns.len())));
                        match client.row(&catalog::can_read(), &Relation::source(&table)).await {
                            Ok(Single(true)) => {
                                checks.push(Check::ok(&subject, "privileges", "may be read".into()));
                                // A replicated store reads the table whole only on a resync.
                                if store.replication.is_none() {
                                    let order = SourceOrder::new(dataset, &capture.schema);
                                    checks.push(key_order_check(client, &subject, &order, &table).await);
                                }
                            }
                            Ok(_) => checks.push(Check::failed(
                                &subject,
                                "privileges",
                                "may not be read".into(),
                                format!(
                                    "GRANT SELECT ON {} TO {}",
                                    table.quoted,
                                    session_of(client).await.0
                                ),
                            )),
                            Err(e) => checks.push(Check::failed(&subject, "privileges", e.to_string(), retry())),
                        }
                    }
                    Ok(problems) => checks.push(Check::failed(
                        &subject,
                        "matches the model",
                        problems.join("; "),
                        "make the source table match the model, or the model the table (docs/batches.md, Ingest)".into(),
                    )),
                    Err(e) => checks.push(Check::failed(&subject, "matches the model", e.to_string(), retry())),
                }
            }
        }
        self.check_replication(&connected, &mut checks).await;
        checks
    }

    /// Checks what the logically replicated streams need of each source: its settings,
    /// the login's attribute, free slots, the replica identity of each captured table, and
    /// each stream's publication and slot, with how far behind the slot is.
    async fn check_replication(
        &self,
        connected: &HashMap<String, Client>,
        checks: &mut Vec<Check>,
    ) {
        let eco = self.eco.model().name.as_str();
        let streams = source::replicated(self.eco);
        for (db, _) in source::replicated_sources(self.eco) {
            let Some(client) = connected.get(&db.name) else {
                continue;
            };
            let subject = format!("database {}", db.name);
            let here: Vec<&Stream<'_>> = streams
                .iter()
                .filter(|s| s.store.capture.database.name == db.name)
                .collect();
            let settings = match client.row(&sql::replication_settings(), &()).await {
                Ok(settings) => settings,
                Err(e) => {
                    checks.push(Check::failed(
                        &subject,
                        "replication",
                        e.to_string(),
                        retry(),
                    ));
                    continue;
                }
            };
            checks.push(if settings.wal_level == "logical" {
                Check::ok(&subject, "wal_level", "logical".into())
            } else {
                Check::failed(
                    &subject,
                    "wal_level",
                    format!("{}: the log cannot be decoded", settings.wal_level),
                    "ALTER SYSTEM SET wal_level = logical, then restart the server".into(),
                )
            });
            let user = &settings.user_name;
            checks.push(if settings.replication || settings.superuser {
                let what = if settings.replication {
                    "REPLICATION"
                } else {
                    "superuser"
                };
                Check::ok(&subject, "replication role", format!("{user} has {what}"))
            } else {
                Check::failed(
                    &subject,
                    "replication role",
                    format!(
                        "{user} has not the REPLICATION attribute: it may not create or read a slot"
                    ),
                    format!("ALTER ROLE {user} REPLICATION"),
                )
            });
            let mut missing = 0;
            let mut slots = Vec::new();
            for stream in &here {
                let names = Names::of(eco, stream);
                let state = client
                    .opt_row(&sql::slot_state(), &ReplicationSlot { slot: &names.slot })
                    .await;
                if matches!(state, Ok(None)) {
                    missing += 1;
                }
                slots.push((*stream, names, state));
            }
            let free = settings.max_replication_slots - settings.used_slots;
            let senders = format!(
                "; WAL senders: {} of {} in use (changes are read over an ordinary connection: none is needed)",
                settings.used_wal_senders, settings.max_wal_senders
            );
            checks.push(if free >= missing {
                Check::ok(
                    &subject,
                    "replication slots",
                    format!(
                        "{free} of {} free, {missing} to create{senders}",
                        settings.max_replication_slots
                    ),
                )
            } else {
                Check::failed(
                    &subject,
                    "replication slots",
                    format!(
                        "{free} of {} free, {missing} to create{senders}",
                        settings.max_replication_slots
                    ),
                    format!(
                        "ALTER SYSTEM SET max_replication_slots = {}, then restart the server",
                        settings.used_slots + missing
                    ),
                )
            });
            let keep = settings.max_slot_wal_keep_size_mb;
            checks.push(if keep < 0 {
                Check::warn(
                    &subject,
                    "slot WAL limit",
                    "max_slot_wal_keep_size is unlimited: a stream that stops running keeps the log until the disk is full".into(),
                    "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (sized to the disk), then SELECT pg_reload_conf(); a slot that falls further behind is lost and its stream reads a snapshot".into(),
                )
            } else {
                Check::ok(
                    &subject,
                    "slot WAL limit",
                    format!("max_slot_wal_keep_size {keep} MB"),
                )
            });
            let database = session_of(client).await.1;
            for (stream, names, state) in slots {
                let subject = format!("stream {} {}", stream.platform.model.name, stream.key);
                let infra = format!("run infra --platform {}", stream.platform.model.name);
                let tables = source::tables(stream);
                checks.push(
                    match source::publication_change(client, &names.publication, &tables).await {
                        Ok(None) => Check::ok(
                            &subject,
                            "publication",
                            format!(
                                "{} publishes its {} tables",
                                names.publication,
                                tables.len()
                            ),
                        ),
                        Ok(Some((SourceAction::CreatePublication, _))) => Check::failed(
                            &subject,
                            "publication",
                            format!("{} is missing", names.publication),
                            infra.clone(),
                        ),
                        Ok(Some(_)) => Check::failed(
                            &subject,
                            "publication",
                            format!(
                                "{} publishes other tables than the stream's",
                                names.publication
                            ),
                            infra.clone(),
                        ),
                        Err(e) => Check::failed(&subject, "publication", e.to_string(), retry()),
                    },
                );
                let age = match &state {
                    Ok(Some(s)) => {
                        SlotLag::of(stream, &names.slot, Ok(Some(s.clone())))
                            .aged(self.last_committed(stream).await.as_ref())
                            .lag_seconds
                    }
                    _ => None,
                };
                checks.push(slot_check(
                    &subject,
                    &names.slot,
                    &database,
                    (state, age),
                    infra,
                ));
            }
            for store in self
                .eco
                .stores()
                .filter(|s| s.replication.is_some() && s.capture.database.name == db.name)
            {
                for dataset in &store.model.datasets {
                    let table = SourceTable::new(&store.capture.schema, &dataset.name);
                    let found = client
                        .opt_row(&sql::replica_identity(), &Relation::source(&table))
                        .await;
                    let subject = format!("source table {}", table.name);
                    match found {
                        // A missing table is the check against the model's to report.
                        Ok(None) => {}
                        Ok(Some(identity)) => checks.push(identity_check(
                            &subject,
                            &table,
                            &dataset.primary_key,
                            &identity,
                        )),
                        Err(e) => checks.push(Check::failed(
                            &subject,
                            "replica identity",
                            e.to_string(),
                            retry(),
                        )),
                    }
                }
            }
        }
    }

    /// Checks one database's settings, credential and connection; the connection, when it
    /// worked.
    async fn check_database(
        &self,
        db: &PostgresDatabase,
        credential: &Credential,
        checks: &mut Vec<Check>,
    ) -> Option<Client> {
        let subject = format!("database {}", db.name);
        let settings = match Settings::resolve(db, Some(credential), self.env) {
            Ok(settings) => settings,
            Err(e) => {
                checks.push(Check::failed(
                    &subject,
                    "settings",
                    e.to_string(),
                    settings_fix(&e),
                ));
                return None;
            }
        };
        let vars: Vec<String> = credential.env_vars().into_iter().map(|(v, _)| v).collect();
        let missing: Vec<&String> = vars.iter().filter(|v| !self.env.has(v)).collect();
        checks.push(if missing.is_empty() {
            Check::ok(
                &subject,
                "credential",
                format!("{} set", vars.join(" and ")),
            )
        } else {
            Check {
                subject: subject.clone(),
                check: "credential",
                // A user (and password) from elsewhere can still log in: the connection says.
                ok: settings.user_name().is_some(),
                detail: format!(
                    "{} not set{}",
                    missing
                        .iter()
                        .map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" and "),
                    settings
                        .user_name()
                        .map(|u| format!("; logging in as {u} from the URL or PGUSER"))
                        .unwrap_or_default()
                ),
                fix: Some(format!(
                    "set {} (in Kubernetes from the Secret `{}`; see secrets.md)",
                    vars.join(" and "),
                    datasurface_model::naming::secret_name(&credential.name)
                )),
                warning: false,
            }
        });
        match pg::connect_with(&settings, 1).await {
            Ok(client) => {
                let detail = match client.row(&catalog::session(), &()).await {
                    Ok(session) => format!(
                        "{} as {}, PostgreSQL {}{}",
                        settings.target().split(" as ").next().unwrap_or_default(),
                        session.user_name,
                        session.server_version,
                        if session.tls {
                            ", TLS"
                        } else {
                            ", not encrypted"
                        }
                    ),
                    Err(_) => settings.target(),
                };
                checks.push(Check::ok(&subject, "connect", detail));
                Some(client)
            }
            Err(e) => {
                let fix = connect_fix(&e, db);
                checks.push(Check::failed(&subject, "connect", e.to_string(), fix));
                None
            }
        }
    }
}

/// Whether an index of the source gives the key order every snapshot reads the table in:
/// where none does, the source's server sorts the whole table for each batch — in temporary
/// files once it outgrows the memory the batch's session sorts in.
async fn key_order_check(
    client: &Client,
    subject: &str,
    order: &SourceOrder,
    table: &SourceTable,
) -> Check {
    let relation = Relation::source(table);
    let byte_ordered = match client
        .rows(&catalog::byte_ordered_columns(), &relation)
        .await
    {
        Ok(columns) => columns.into_iter().map(|Single(c)| c).collect::<Vec<_>>(),
        Err(e) => return Check::failed(subject, KEY_ORDER, e.to_string(), retry()),
    };
    let sorts_by_bytes = |column: &str| byte_ordered.iter().any(|c| c == column);
    let plan = async {
        client.run(&SourceOrder::forbid_sort()).await?;
        let plan = client.rows(&order.plan(&sorts_by_bytes), &()).await;
        client.run(&SourceOrder::allow_sort()).await?;
        plan
    }
    .await;
    match (plan, client.row(&catalog::table_size(), &relation).await) {
        (Ok(plan), Ok(size)) => {
            let plan: Vec<String> = plan.into_iter().map(|Single(line)| line).collect();
            let index = order.index(&sorts_by_bytes, size.partitioned);
            key_order_verdict(subject, &plan, size.bytes, index)
        }
        (Err(e), _) | (_, Err(e)) => Check::failed(subject, KEY_ORDER, e.to_string(), retry()),
    }
}

const KEY_ORDER: &str = "key order";

/// What the plan of a snapshot's read, planned with sorting ruled out, says: a sort left in
/// it is one no index can spare. A table that fits in the session's sort memory is sorted
/// there at little cost; a larger one is worth the `index` that gives the order.
fn key_order_verdict(subject: &str, plan: &[String], bytes: i64, index: String) -> Check {
    let node = |line: &String| {
        line.trim_start()
            .trim_start_matches("->")
            .trim_start()
            .to_owned()
    };
    let sorts = plan
        .iter()
        .any(|l| matches!(node(l).as_str(), "Sort" | "Incremental Sort"));
    let size = readable_bytes(Some(bytes));
    if !sorts {
        let through = plan.iter().find_map(|l| {
            let (_, rest) = l.split_once(" using ")?;
            Some(rest.split(" on ").next()?.to_owned())
        });
        let detail = match through {
            Some(index) => format!("read through index {index}, no sort"),
            None => "read without a sort".to_owned(),
        };
        return Check::ok(subject, KEY_ORDER, detail);
    }
    let memory = readable_bytes(Some(SORT_MEMORY_BYTES));
    if bytes <= SORT_MEMORY_BYTES {
        return Check::ok(
            subject,
            KEY_ORDER,
            format!("no index gives it: each snapshot sorts the table ({size}) in memory"),
        );
    }
    Check::warn(
        subject,
        KEY_ORDER,
        format!(
            "no index gives it: each snapshot sorts the table ({size}) on the source's server, \
             beyond the {memory} it sorts in memory, in temporary files"
        ),
        format!("on the source: {index}; or capture the store by logical replication"),
    )
}

/// Whether the stream's slot is there, decodes this database with `pgoutput`, and still has
/// the log it needs; with how far behind it is.
fn slot_check(
    subject: &str,
    slot: &str,
    database: &str,
    (state, age): (Result<Option<SlotState>, crate::pg::DbError>, Option<f64>),
    infra: String,
) -> Check {
    const CHECK: &str = "replication slot";
    let s = match state {
        Ok(Some(s)) => s,
        Ok(None) => return Check::failed(subject, CHECK, format!("{slot} is missing"), infra),
        Err(e) => return Check::failed(subject, CHECK, e.to_string(), retry()),
    };
    if s.plugin.as_deref() != Some("pgoutput") || s.database.as_deref() != Some(database) {
        return Check::failed(
            subject,
            CHECK,
            format!(
                "{slot} is not this stream's: it decodes database {} with {}",
                s.database.as_deref().unwrap_or("none"),
                s.plugin.as_deref().unwrap_or("no plugin")
            ),
            format!("SELECT pg_drop_replication_slot('{slot}') where it is, then {infra}"),
        );
    }
    let lag = format!(
        "{slot}: {} behind{}, {} of log kept, wal_status {}",
        readable_bytes(s.lag_bytes),
        age.map(|a| format!(" ({a:.0} s since its changes were current)"))
            .unwrap_or_default(),
        readable_bytes(s.retained_bytes),
        s.wal_status.as_deref().unwrap_or("unknown")
    );
    match s.wal_status.as_deref() {
        Some("lost") => Check::failed(
            subject,
            CHECK,
            lag,
            "run the stream: its next batch creates the slot again and reads a snapshot; \
             then run batches more often, or raise max_slot_wal_keep_size"
                .into(),
        ),
        Some("unreserved") => Check::warn(
            subject,
            CHECK,
            lag,
            "run the stream now: the server may remove the log the slot needs at the next checkpoint".into(),
        ),
        _ => Check::ok(subject, CHECK, lag),
    }
}

/// Whether the old values a table's changes carry hold the model's key: a deleted or
/// re-keyed row is found by it.
fn identity_check(
    subject: &str,
    table: &SourceTable,
    key: &[String],
    identity: &ReplicaIdentity,
) -> Check {
    const CHECK: &str = "replica identity";
    let covers = key.iter().all(|k| identity.columns.contains(k));
    let key_list = key
        .iter()
        .map(|k| naming::quote_ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = format!(
        "ALTER TABLE {} REPLICA IDENTITY FULL (or give it a primary key or a unique index on {key_list} and use it: REPLICA IDENTITY USING INDEX …)",
        table.quoted
    );
    let columns = identity.columns.join(", ");
    match identity.identity.as_str() {
        "f" => Check::ok(subject, CHECK, "full: every column".into()),
        "d" if identity.columns.is_empty() => Check::failed(
            subject,
            CHECK,
            "default, but the table has no primary key: its updates and deletes fail once it is published".into(),
            fix,
        ),
        "d" if covers => Check::ok(subject, CHECK, format!("the primary key ({columns})")),
        "i" if covers => Check::ok(subject, CHECK, format!("an index on ({columns})")),
        "n" => Check::failed(
            subject,
            CHECK,
            "nothing: a delete carries no key".into(),
            fix,
        ),
        _ => Check::failed(
            subject,
            CHECK,
            format!("({columns}) does not hold the model's key ({})", key.join(", ")),
            fix,
        ),
    }
}

/// Whether a merge database's checkpoints come from the clock: when most were requested,
/// the log keeps reaching `max_wal_size` between them, and after each one the first change
/// a batch makes to a page writes the whole page into the log — at 10,000,000 rows, a
/// replicated 1% batch's merge took 3.2 s and wrote 496 MiB of log on a server with the
/// default 1 GB, 1.1 s and 13 MiB with 16 GB (and `checkpoint_timeout` 30 min). A warning,
/// not a failure: batches run either way.
async fn checkpoints_check(client: &Client, subject: &str) -> Check {
    const CHECK: &str = "checkpoints";
    let counts = match client.row(&catalog::server_version_num(), &()).await {
        Ok(Single(version)) => client.row(&catalog::checkpoints(version), &()).await,
        Err(e) => Err(e),
    };
    let c = match counts {
        Ok(c) => c,
        Err(e) => return Check::failed(subject, CHECK, e.to_string(), retry()),
    };
    let since = c.since.as_deref().unwrap_or("the server started");
    let settings = format!(
        "max_wal_size {}, checkpoint_timeout {}",
        megabytes(c.max_wal_size_mb),
        c.checkpoint_timeout
    );
    if c.requested >= 3 && c.requested > c.timed {
        let pages = if c.full_page_writes {
            ": after each, the first change a batch makes to a page writes the whole page into the log"
        } else {
            ""
        };
        Check::warn(
            subject,
            CHECK,
            format!(
                "{} of {} checkpoints since {since} were requested — by the log reaching max_wal_size, or by CHECKPOINT — not timed ({settings}){pages}",
                c.requested,
                c.requested + c.timed
            ),
            format!(
                "ALTER SYSTEM SET max_wal_size = '{}', then SELECT pg_reload_conf(): size it to hold the log the server writes in checkpoint_timeout, batches included",
                megabytes(c.max_wal_size_mb.saturating_mul(4))
            ),
        )
    } else {
        Check::ok(
            subject,
            CHECK,
            format!(
                "{} timed, {} requested since {since} ({settings})",
                c.timed, c.requested
            ),
        )
    }
}

/// A size in megabytes as a setting spells it: `4GB`, `1536MB`.
fn megabytes(mb: i64) -> String {
    if mb >= 1024 && mb % 1024 == 0 {
        format!("{}GB", mb / 1024)
    } else {
        format!("{mb}MB")
    }
}

/// The session's user and database, as the fix for a missing privilege names them.
async fn session_of(client: &Client) -> (String, String) {
    client.row(&catalog::session(), &()).await.map_or_else(
        |_| ("the user".to_owned(), "the database".to_owned()),
        |s| (s.user_name, s.database),
    )
}

fn retry() -> String {
    "run doctor again; if it persists, check the server's log".into()
}

fn settings_fix(e: &pg::SettingsError) -> String {
    match e {
        pg::SettingsError::MissingCredential {
            user_var,
            password_var,
            ..
        } => {
            format!("set {user_var} and {password_var}")
        }
        pg::SettingsError::AmbiguousOverride { var }
        | pg::SettingsError::BadOverride { var, .. } => {
            format!(
                "fix {var}: postgres://host:port/database, with `@` in a user or password written %40"
            )
        }
        pg::SettingsError::BadSetting { var, .. } => format!("fix {var}"),
    }
}

/// What to do about a failed connection, by what PostgreSQL or the network said.
fn connect_fix(e: &pg::ConnectError, db: &PostgresDatabase) -> String {
    let var = datasurface_model::naming::database_env_var(&db.name);
    let text = e.to_string();
    if text.contains("password authentication failed") {
        "check the credential's user and password".into()
    } else if text.contains("does not exist") {
        format!(
            "create the database (CREATE DATABASE {}), or point {var} at the right one",
            db.database
        )
    } else if text.contains("lookup address")
        || text.contains("Connection refused")
        || text.contains("timed out")
    {
        format!("check that the server runs and is reachable, or point {var} at it")
    } else if text.contains("certificate") || text.contains("TLS") || text.contains("SSL") {
        "check sslmode and sslrootcert (in the URL, or PGSSLMODE and PGSSLROOTCERT)".into()
    } else if text.contains("pg_hba.conf") {
        "allow the user from this host in the server's pg_hba.conf".into()
    } else {
        retry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| (*l).to_owned()).collect()
    }

    const INDEX: &str = "CREATE INDEX CONCURRENTLY ON \"public\".\"t\" (\"id\" COLLATE \"C\")";

    #[test]
    fn a_sort_no_index_spares_is_a_warning_once_it_outgrows_the_sort_memory() {
        let sorted = plan(&[
            "Sort",
            "  Sort Key: id COLLATE \"C\"",
            "  ->  Seq Scan on t",
        ]);
        let big = key_order_verdict("t", &sorted, SORT_MEMORY_BYTES + 1, INDEX.into());
        assert!(big.ok && big.warning, "{big:?}");
        assert_eq!(
            big.fix.as_deref(),
            Some(
                format!("on the source: {INDEX}; or capture the store by logical replication")
                    .as_str()
            )
        );
        assert!(big.detail.contains("in temporary files"), "{}", big.detail);
        let small = key_order_verdict("t", &sorted, SORT_MEMORY_BYTES, INDEX.into());
        assert!(
            small.ok && !small.warning && small.fix.is_none(),
            "{small:?}"
        );
        assert!(small.detail.contains("in memory"), "{}", small.detail);
        let gathered = plan(&[
            "Gather Merge",
            "  Workers Planned: 2",
            "  ->  Sort",
            "        Sort Key: id",
        ]);
        assert!(key_order_verdict("t", &gathered, i64::MAX, INDEX.into()).warning);
    }

    #[test]
    fn an_index_that_gives_the_order_is_named() {
        let through = plan(&["Index Scan using t_id_c on t"]);
        let check = key_order_verdict("t", &through, i64::MAX, INDEX.into());
        assert!(check.ok && !check.warning, "{check:?}");
        assert_eq!(check.detail, "read through index t_id_c, no sort");
    }
}
