//! PostgreSQL: where a model database really is and who logs into it (`settings.rs`),
//! connecting — TLS as `sslmode` asks (`tls.rs`), a few retries of what may pass, the
//! server's notices to the log — and running statements (`exec.rs`).

mod exec;
mod settings;
mod tls;

pub use exec::{DbError, describe};
pub use exec::{Exec, begin, commit, rollback};
pub use settings::{Environment, Settings, SettingsError, SslMode};
pub use tls::TlsError;
pub(crate) use tls::{https, plain_http};

use datasurface_codegen::sql::SESSION_SETTINGS;
use datasurface_model::{Credential, PostgresDatabase};
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// A database that could not be reached. Names the database, host and user, never the
/// password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("database {name} ({target}): {source}")]
    Tls {
        name: String,
        target: String,
        source: TlsError,
    },
    #[error("cannot connect to database {name} ({target}){}: {}", after(*.attempts), describe(.source))]
    Connect {
        name: String,
        target: String,
        attempts: u32,
        source: tokio_postgres::Error,
    },
}

fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// Tries at the start of a command before a failure that may pass is taken for an answer.
const ATTEMPTS: u32 = 4;

/// Connects to `db` with `credential`, with the session settings row hashes rely on;
/// retries a few times, with backoff, a failure that may pass (a server starting or
/// unreachable for a moment), each retry logged with its cause.
pub async fn connect(
    db: &PostgresDatabase,
    credential: &Credential,
    env: &Environment,
) -> Result<Client, ConnectError> {
    let settings = Settings::resolve(db, Some(credential), env)?;
    connect_with(&settings, ATTEMPTS).await
}

/// Connects with resolved settings, trying up to `attempts` times.
pub async fn connect_with(settings: &Settings, attempts: u32) -> Result<Client, ConnectError> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match connect_once(settings).await {
            Err(ConnectError::Connect { source, .. })
                if attempt < attempts && may_pass(&source) =>
            {
                tracing::warn!(
                    database = %settings.name,
                    target = %settings.target(),
                    attempt,
                    cause = %describe(&source),
                    "cannot connect to {} yet ({}); trying again in {:.1} s",
                    settings.name,
                    describe(&source),
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(4));
                attempt += 1;
            }
            Err(ConnectError::Connect {
                source,
                name,
                target,
                ..
            }) => {
                return Err(ConnectError::Connect {
                    name,
                    target,
                    attempts: attempt,
                    source,
                });
            }
            other => return other,
        }
    }
}

/// One attempt to connect. The connection's notices and warnings go to the log.
async fn connect_once(settings: &Settings) -> Result<Client, ConnectError> {
    let failed = |source| ConnectError::Connect {
        name: settings.name.clone(),
        target: settings.target(),
        attempts: 1,
        source,
    };
    tracing::debug!(database = %settings.name, target = %settings.target(), ssl = ?settings.ssl, "connecting to {} at {}", settings.name, settings.target());
    let mut config = settings.config.clone();
    let client = if settings.ssl == SslMode::Disable {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
        spawn(connection, &settings.name);
        client
    } else {
        config.ssl_mode(match settings.ssl {
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let tls = tls::connector(settings).map_err(|source| ConnectError::Tls {
            name: settings.name.clone(),
            target: settings.target(),
            source,
        })?;
        let (client, connection) = config.connect(tls).await.map_err(failed)?;
        spawn(connection, &settings.name);
        client
    };
    client
        .batch_execute(SESSION_SETTINGS)
        .await
        .map_err(failed)?;
    Ok(client)
}

/// Drives a connection until its client is dropped, passing the server's notices and
/// warnings to the log.
fn spawn<S, T>(mut connection: tokio_postgres::Connection<S, T>, database: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let database = database.to_owned();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        // Errors surface on the client; the loop ends with the connection.
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut messages).await {
            if let tokio_postgres::AsyncMessage::Notice(notice) = message {
                let severity = notice.severity();
                if severity.starts_with("WARNING") {
                    tracing::warn!(%database, server = %notice.message(), "{database} warns: {}", notice.message());
                } else if severity.starts_with("NOTICE") || severity.starts_with("INFO") {
                    tracing::info!(%database, server = %notice.message(), "{database} says: {}", notice.message());
                } else {
                    tracing::debug!(%database, server = %notice.message(), severity, "{database} says: {}", notice.message());
                }
            }
        }
    });
}

/// Whether a failure to connect may pass by itself: the server is starting, full, or not
/// reachable for the moment (refused, reset, timed out, its name not yet resolvable).
fn may_pass(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return matches!(code.code(), "57P03" | "53300");
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | NotConnected
                    | UnexpectedEof
            ) || io.to_string().contains("lookup address");
        }
        cause = c.source();
    }
    e.to_string().contains("timeout")
}
