//! `doctor`: everything the model needs before a batch can run, checked one by one, each
//! failure with what to do — like `dbt debug`. Nothing is changed.

use super::ingest::check_source;
use super::session::Engine;
use crate::pg::{self, Exec, Settings};
use datasurface_codegen::sql::SourceTable;
use datasurface_codegen::sql::catalog::{self, Relation, Schema};
use datasurface_codegen::sql::typed::Single;
use datasurface_model::{Credential, PostgresDatabase};
use std::collections::HashMap;
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
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(subject: &str, check: &'static str, detail: String) -> Check {
        Check {
            subject: subject.to_owned(),
            check,
            ok: true,
            detail,
            fix: None,
        }
    }

    fn failed(subject: &str, check: &'static str, detail: String, fix: String) -> Check {
        Check {
            subject: subject.to_owned(),
            check,
            ok: false,
            detail,
            fix: Some(fix),
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
        for platform in self.eco.platforms() {
            let db = &platform.provider.merge_database;
            let subject = format!("platform {}", platform.name);
            let Some(client) = connected.get(&db.name) else {
                continue;
            };
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
                    format!("run infra --platform {}", platform.name),
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
            for dataset in &store.datasets {
                let table = SourceTable::new(&capture.schema, &dataset.name);
                let subject = format!("source table {}", table.name);
                match check_source(client, &capture.database.name, dataset, &table).await {
                    Ok(problems) if problems.is_empty() => {
                        checks.push(Check::ok(&subject, "matches the model", format!("{} columns", dataset.columns.len())));
                        match client.row(&catalog::can_read(), &Relation::source(&table)).await {
                            Ok(Single(true)) => {
                                checks.push(Check::ok(&subject, "privileges", "may be read".into()))
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
        checks
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
