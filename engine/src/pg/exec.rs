//! Running statements: the one database error type, and the calls that run codegen's
//! statements and name what failed.

use datasurface_codegen::sql::Statement;
use datasurface_codegen::sql::typed::{Columns, FromSql, Params, Query, Row};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, Transaction};

/// A statement the database refused or could not run, with what it was for. Never shows a
/// row value: details of data errors (which PostgreSQL fills with the failing row or key)
/// are left out, and a value quoted in their message is replaced.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", describe(.source))]
pub struct DbError {
    what: String,
    #[source]
    source: tokio_postgres::Error,
}

impl DbError {
    /// `source`, which happened while doing `what`.
    pub fn new(what: impl Into<String>, source: tokio_postgres::Error) -> Self {
        DbError {
            what: what.into(),
            source,
        }
    }

    /// The SQLSTATE the server sent, if it sent one.
    pub fn code(&self) -> Option<&SqlState> {
        self.source.code()
    }

    /// Whether the statement failed because of the data it worked on — a value that does
    /// not fit, a violated constraint, an index entry too large — rather than because of the
    /// server or the connection: running it again on the same data fails again.
    pub fn is_data_error(&self) -> bool {
        self.code().is_some_and(|c| {
            let code = c.code();
            code.starts_with("22") || code.starts_with("23") || code == "54000"
        })
    }

    /// Whether the connection, not the statement, failed: reconnecting may help.
    pub fn is_connection_error(&self) -> bool {
        match self.source.code() {
            Some(code) => {
                let c = code.code();
                c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
            }
            None => self.source.is_closed(),
        }
    }
}

/// A database error as PostgreSQL words it — message, detail, hint — without row values.
pub fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        // The driver's own words ("error connecting to server"), then each cause.
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            let line = c.to_string();
            if !text.ends_with(&line) {
                text.push_str(&format!(": {line}"));
            }
            cause = c.source();
        }
        return text;
    };
    let class = db.code().code().get(..2).unwrap_or("");
    let mut text = if class == "22" {
        redact_value(db.message())
    } else {
        db.message().to_owned()
    };
    // Data and integrity errors detail the failing row or key: values stay out.
    if let Some(detail) = db.detail().filter(|_| class != "22" && class != "23") {
        text.push_str(&format!(" ({detail})"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    text
}

/// `invalid input syntax for type integer: "abc"` → `… integer: (value not shown)`.
fn redact_value(message: &str) -> String {
    match message.find(": \"") {
        Some(at) if message.ends_with('"') => format!("{}: (value not shown)", &message[..at]),
        _ => message.to_owned(),
    }
}

/// Runs codegen's statements on a client or a transaction, binding their typed parameters
/// and reading their typed rows: the one place that does. A failure names the statement.
// The DataSurface crates run their futures on one thread; no caller needs them `Send`.
#[allow(async_fn_in_trait)]
pub trait Exec: GenericClient + Sync {
    /// Runs a statement; the number of rows it changed.
    async fn exec<P: Params>(&self, q: &Query<P>, params: &P) -> Result<u64, DbError> {
        let s = q.statement();
        self.execute(s.sql(), &params.values())
            .await
            .map_err(|e| DbError::new(s.what(), e))
    }

    /// Runs a query; its rows.
    async fn rows<P: Params, R: Row>(
        &self,
        q: &Query<P, R>,
        params: &P,
    ) -> Result<Vec<R>, DbError> {
        let s = q.statement();
        let rows = self
            .query(s.sql(), &params.values())
            .await
            .map_err(|e| DbError::new(s.what(), e))?;
        rows.iter().map(|row| read(s, row)).collect()
    }

    /// Runs a query that returns exactly one row.
    async fn row<P: Params, R: Row>(&self, q: &Query<P, R>, params: &P) -> Result<R, DbError> {
        let s = q.statement();
        let row = self
            .query_one(s.sql(), &params.values())
            .await
            .map_err(|e| DbError::new(s.what(), e))?;
        read(s, &row)
    }

    /// Runs a query that returns at most one row.
    async fn opt_row<P: Params, R: Row>(
        &self,
        q: &Query<P, R>,
        params: &P,
    ) -> Result<Option<R>, DbError> {
        let s = q.statement();
        let row = self
            .query_opt(s.sql(), &params.values())
            .await
            .map_err(|e| DbError::new(s.what(), e))?;
        row.map(|row| read(s, &row)).transpose()
    }

    /// Runs a query whose rows stream as the server sends them, so memory holds one at a
    /// time however many there are.
    async fn stream<P: Params, R: Row>(
        &self,
        q: &Query<P, R>,
        params: &P,
    ) -> Result<impl futures_util::Stream<Item = Result<R, DbError>>, DbError> {
        use futures_util::StreamExt;
        let s = q.statement().clone();
        let rows = self
            .query_raw(s.sql(), params.values())
            .await
            .map_err(|e| DbError::new(s.what(), e))?;
        Ok(rows.map(move |row| {
            row.map_err(|e| DbError::new(s.what(), e))
                .and_then(|row| read(&s, &row))
        }))
    }

    /// Runs a statement that takes no parameters, with the simple protocol (DDL, `ANALYZE`,
    /// `TRUNCATE`).
    async fn run(&self, s: &Statement) -> Result<(), DbError> {
        self.batch_execute(s.sql())
            .await
            .map_err(|e| DbError::new(s.what(), e))
    }
}

impl<C: GenericClient + Sync> Exec for C {}

/// Reads one row of `s` as `R`.
fn read<R: Row>(s: &Statement, row: &tokio_postgres::Row) -> Result<R, DbError> {
    R::read(&Received(row)).map_err(|e| DbError::new(s.what(), e))
}

/// A row as the server sent it, read by column position for a typed row.
struct Received<'r>(&'r tokio_postgres::Row);

impl Columns for Received<'_> {
    type Error = tokio_postgres::Error;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T, Self::Error> {
        self.0.try_get(index)
    }
}

/// Opens a transaction.
pub async fn begin(client: &mut Client) -> Result<Transaction<'_>, DbError> {
    client
        .transaction()
        .await
        .map_err(|e| DbError::new("begin a transaction", e))
}

/// Commits a transaction.
pub async fn commit(tx: Transaction<'_>) -> Result<(), DbError> {
    tx.commit()
        .await
        .map_err(|e| DbError::new("commit the transaction", e))
}

/// Rolls a transaction back.
pub async fn rollback(tx: Transaction<'_>) -> Result<(), DbError> {
    tx.rollback()
        .await
        .map_err(|e| DbError::new("roll the transaction back", e))
}

#[cfg(test)]
mod tests {
    use super::redact_value;

    #[test]
    fn values_quoted_in_data_errors_are_not_shown() {
        assert_eq!(
            redact_value("invalid input syntax for type integer: \"4 Main St\""),
            "invalid input syntax for type integer: (value not shown)"
        );
        assert_eq!(
            redact_value("value too long for type character varying(5)"),
            "value too long for type character varying(5)"
        );
    }
}
