//! PostgreSQL: where a model database really is, who logs into it, and running statements
//! on it.

mod exec;

pub use exec::{DbError, describe};
pub(crate) use exec::{Exec, begin, commit, rollback};

use datasurface_codegen::sql::SESSION_SETTINGS;
use datasurface_model::{Credential, PostgresDatabase, naming};
use std::collections::BTreeMap;
use std::str::FromStr;
use tokio_postgres::{Client, Config, NoTls};

/// The environment the runtime reads: credentials (`{name}_USER`, `{name}_PASSWORD`) and
/// database overrides (`DATASURFACE_DB_{NAME}`). Tests build one explicitly; the binary
/// takes the process's.
#[derive(Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Environment {
    // Never print values: they hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("vars", &self.vars.keys())
            .finish()
    }
}

impl Environment {
    /// The process's environment.
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Whether `name` is set (and not empty).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of `name`, when set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// A database that could not be reached. Names the database, never the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("credential `{credential}`: set {user_var} (and {password_var}) in the environment")]
    MissingCredential {
        credential: String,
        user_var: String,
        password_var: String,
    },
    #[error("{var} is not a usable connection URL (expected postgres://host:port/database)")]
    BadOverride { var: String },
    #[error(
        "{var} is ambiguous: more than one `@` before the host, so part of a password could be \
         taken for the host; percent-encode `@` in the user or password as %40"
    )]
    AmbiguousOverride { var: String },
    #[error("cannot connect to database {name} ({target}): {}", describe(.source))]
    Connect {
        name: String,
        target: String,
        source: tokio_postgres::Error,
    },
}

/// Where `db` is: the model's host, port and database, unless `DATASURFACE_DB_{NAME}` points
/// elsewhere. No credentials yet.
pub fn location(db: &PostgresDatabase, env: &Environment) -> Result<Config, ConnectError> {
    let var = naming::database_env_var(&db.name);
    match env.get(&var) {
        Some(url) => {
            if has_ambiguous_user_info(url) {
                return Err(ConnectError::AmbiguousOverride { var });
            }
            Config::from_str(url).map_err(|_| ConnectError::BadOverride { var: var.clone() })
        }
        None => {
            let mut c = Config::new();
            c.host(&db.host).port(db.port).dbname(&db.database);
            Ok(c)
        }
    }
}

/// Where `db` is ([`location`]), logged into with `credential` from the environment.
pub fn config(
    db: &PostgresDatabase,
    credential: &Credential,
    env: &Environment,
) -> Result<Config, ConnectError> {
    let mut config = location(db, env)?;
    let user_var = naming::credential_env_var(&credential.name, "USER");
    let password_var = naming::credential_env_var(&credential.name, "PASSWORD");
    match env.get(&user_var) {
        Some(user) => {
            config.user(user);
        }
        None if config.get_user().is_some() => {}
        None => {
            return Err(ConnectError::MissingCredential {
                credential: credential.name.clone(),
                user_var,
                password_var,
            });
        }
    }
    if let Some(password) = env.get(&password_var) {
        config.password(password);
    }
    config.application_name("datasurface");
    Ok(config)
}

/// Whether a URL's authority holds more than one `@`: an unencoded `@` in a password.
fn has_ambiguous_user_info(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority.matches('@').count() > 1
}

/// `host:port/database` of a configuration, for messages (no user, no password).
pub fn target(config: &Config) -> String {
    let (host, port) = host_port(config);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// The (first) host and port of a configuration.
pub fn host_port(config: &Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// Connects to `db` with `credential`, with the session settings row hashes rely on.
pub async fn connect(
    db: &PostgresDatabase,
    credential: &Credential,
    env: &Environment,
) -> Result<Client, ConnectError> {
    let config = config(db, credential, env)?;
    connect_config(&db.name, &config).await
}

/// Connects with an explicit configuration; `name` is what messages call the database.
pub async fn connect_config(name: &str, config: &Config) -> Result<Client, ConnectError> {
    let failed = |source| ConnectError::Connect {
        name: name.to_owned(),
        target: target(config),
        source,
    };
    let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors surface on the client.
        let _ = connection.await;
    });
    client
        .batch_execute(SESSION_SETTINGS)
        .await
        .map_err(failed)?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::has_ambiguous_user_info;

    #[test]
    fn an_unencoded_at_in_a_password_is_ambiguous() {
        assert!(has_ambiguous_user_info(
            "postgres://app:hunter2@topsecret@db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info(
            "postgres://app:hunter2%40topsecret@db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info(
            "postgres://db.internal:5432/merge"
        ));
        assert!(!has_ambiguous_user_info("postgres://db/merge?options=a@b"));
    }
}
