//! A statement with what it does, and the shapes the engine runs statements in: the DDL of
//! one object, and the steps of a merge with what their row counts mean.

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
            sql: format!("-- {what}.\n{body}"),
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
    /// A query returning one row: (rows updated, rows deleted).
    UpdatedAndDeleted,
}

/// One step of a merge: a statement, and what its row count means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    pub statement: Statement,
    /// Whether the statement takes the batch id as `$1`.
    pub takes_batch: bool,
    pub counts: Counts,
}

impl MergeStep {
    pub(crate) fn new(statement: Statement, takes_batch: bool, counts: Counts) -> Self {
        MergeStep {
            statement,
            takes_batch,
            counts,
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
