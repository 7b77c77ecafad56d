//! A statement with what it does, and the shapes the engine runs statements in: the DDL of
//! one object, and the steps of a merge with what their row counts mean.

use super::names::{Op, ThisBatch};
use super::typed::Query;

/// One SQL statement and what it does. The text starts with that as a comment
/// (`-- Empty the staging table of people.`), so it shows in the generated files and in the
/// server's logs; the runtime names it when the statement fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    what: String,
    sql: String,
}

impl Statement {
    /// `body`, run for the reason `what` (a sentence without its final full stop).
    pub(crate) fn new(what: impl Into<String>, body: impl std::fmt::Display) -> Self {
        let what = what.into();
        Statement {
            sql: crate::text::text!("-- {what}.\n{body}"),
            what,
        }
    }

    /// What the statement does, as its comment says it.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The statement's text, its comment first.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement's text, taken.
    pub fn into_sql(self) -> String {
        self.sql
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

/// A statement that creates one database object when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    /// The object's name (unquoted), to look it up before creating it.
    pub object: String,
    pub statement: Statement,
    /// For tables of a dataset: what it holds beyond the dataset's columns, to evolve it.
    pub shape: Option<Shape<'static>>,
}

/// What a merge statement's row count means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    Inserted,
    Updated,
    Deleted,
    /// New versions: keys new in this batch plus keys whose row changed.
    InsertedAndUpdated,
}

crate::row! {
    /// What closing versions did: how many were closed because their key's row changed, and
    /// how many because their key is gone.
    pub struct Closed {
        pub updated: i64 = format!("count(*) FILTER (WHERE op = {})", Op::Update.literal()),
        pub deleted: i64 = format!("count(*) FILTER (WHERE op = {})", Op::Delete.literal()),
    }
}

/// One step of a merge: a statement, and what it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeStep {
    /// Changes rows without the batch's id; its row count means `counts`.
    Plain { query: Query<()>, counts: Counts },
    /// Changes rows stamping them with the batch's id; its row count means `counts`.
    Stamped {
        query: Query<ThisBatch>,
        counts: Counts,
    },
    /// Closes the current versions of changed and gone keys as of the batch, and returns
    /// how many of each.
    Close(Query<ThisBatch, Closed>),
}

impl MergeStep {
    /// Its statement.
    pub fn statement(&self) -> &Statement {
        match self {
            MergeStep::Plain { query, .. } => query.statement(),
            MergeStep::Stamped { query, .. } => query.statement(),
            MergeStep::Close(query) => query.statement(),
        }
    }
}

/// What a table must look like beyond the dataset's own columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape<'a> {
    /// The platform's own columns (`ds_surf_…`).
    pub platform_columns: &'a [PlatformColumn],
    /// Whether every dataset column is nullable here, whatever the model says (staging,
    /// where a gone key is staged with its key columns only).
    pub nullable: bool,
    /// The platform columns that follow the dataset's key in the primary key
    /// (`ds_surf_batch_in` on forensic merge tables); `None` when the table has no key.
    pub key_suffix: Option<&'a [&'a str]>,
}

/// A column the platform adds to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformColumn {
    pub name: &'static str,
    pub pg_type: &'static str,
    pub nullable: bool,
    /// Its default, as SQL.
    pub default: Option<&'static str>,
}

impl PlatformColumn {
    pub(crate) const fn new(name: &'static str, pg_type: &'static str, nullable: bool) -> Self {
        PlatformColumn {
            name,
            pg_type,
            nullable,
            default: None,
        }
    }

    pub(crate) const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// Its definition in `CREATE TABLE`: type, nullability, default.
    pub fn definition(&self) -> String {
        let mut text = self.pg_type.to_owned();
        if !self.nullable {
            text.push_str(" NOT NULL");
        }
        if let Some(default) = self.default {
            text.push_str(&format!(" DEFAULT {default}"));
        }
        text
    }
}
