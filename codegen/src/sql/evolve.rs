//! Schema evolution: the DDL that brings an existing table to the model, or the reasons it
//! cannot be done safely. Pure: the runtime reads the catalog and passes what it found.

use super::names::q;
use super::statement::Statement;
pub use super::statement::{PlatformColumn, Shape};
use datasurface_model::{Column, DataType, DatasetSchema};

/// A column as the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingColumn {
    pub name: String,
    /// As `format_type()` spells it.
    pub pg_type: String,
    pub nullable: bool,
    /// Whether the column has a default value.
    pub has_default: bool,
}

/// A table as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExistingTable {
    pub columns: Vec<ExistingColumn>,
    /// Primary-key columns, in key order (empty when there is none).
    pub primary_key: Vec<String>,
}

/// One change to a table's schema that brings it to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub kind: SchemaChangeKind,
    pub statement: Statement,
}

/// What a [`SchemaChange`] does to its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChangeKind {
    /// A new nullable column; existing rows hold NULL in it.
    AddColumn { column: String },
    /// A varchar or numeric column made wider in place.
    Widen { column: String },
    /// A NOT NULL column that may now hold NULL.
    DropNotNull { column: String },
}

impl SchemaChange {
    /// Whether the change gives a column another type (views over it must be recreated).
    pub fn retypes(&self) -> bool {
        matches!(self.kind, SchemaChangeKind::Widen { .. })
    }
}

/// Something infra will not do to a table, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub table: String,
    /// The column at fault, or `None` for the table's key.
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "table {}, column {column}: {}", self.table, self.reason),
            None => write!(f, "table {}: {}", self.table, self.reason),
        }
    }
}

/// How a table differs from the model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evolution {
    /// What brings it to the model, in order.
    pub changes: Vec<SchemaChange>,
    /// Columns added by hand to a merge table that the platforms can live with (nullable,
    /// or with a default): left as they are; rows written from now on get NULL or the
    /// default in them.
    pub ignored: Vec<String>,
    /// What cannot be done without losing or rewriting data: if any, nothing is changed.
    pub refusals: Vec<Refusal>,
}

/// How `table` (its name, unquoted) must change from `existing` to hold `dataset` in
/// `shape`. For a merge table, `staging` is the dataset's staging table as found, which
/// tells a column removed from the model (both tables have it) from one added by hand.
pub fn evolve(
    table: &str,
    dataset: &DatasetSchema,
    shape: Shape<'_>,
    existing: &ExistingTable,
    staging: Option<&ExistingTable>,
) -> Evolution {
    let table = Table {
        name: table,
        quoted: q(table),
        existing,
    };
    let mut out = Evolution::default();
    for column in &dataset.columns {
        let nullable = shape.nullable || column.nullable;
        for outcome in model_column(&table, &dataset.name, column, nullable) {
            out.take(outcome);
        }
    }
    for column in shape.platform_columns {
        if let Some(outcome) = platform_column(&table, column) {
            out.take(outcome);
        }
    }
    for column in &existing.columns {
        let known = dataset.columns.iter().any(|c| c.name == column.name)
            || shape.platform_columns.iter().any(|p| p.name == column.name);
        if !known {
            match unknown_column(&table, column, staging) {
                Ok(()) => out.ignored.push(column.name.clone()),
                Err(refusal) => out.refusals.push(refusal),
            }
        }
    }
    if let Some(suffix) = shape.key_suffix {
        out.refusals
            .extend(key(&table, &dataset.primary_key, suffix).err());
    }
    out
}

/// A change, or why it is refused.
type ChangeOrRefusal = Result<SchemaChange, Refusal>;

impl Evolution {
    fn take(&mut self, outcome: ChangeOrRefusal) {
        match outcome {
            Ok(change) => self.changes.push(change),
            Err(refusal) => self.refusals.push(refusal),
        }
    }
}

/// The table being evolved.
struct Table<'a> {
    /// Unquoted.
    name: &'a str,
    quoted: String,
    existing: &'a ExistingTable,
}

impl Table<'_> {
    /// The column called `name`, as the database has it.
    fn column(&self, name: &str) -> Option<&ExistingColumn> {
        self.existing.columns.iter().find(|c| c.name == name)
    }

    fn refuse(&self, column: &str, reason: String) -> Refusal {
        Refusal {
            table: self.name.to_owned(),
            column: Some(column.to_owned()),
            reason,
        }
    }
}

/// What a column of the model (of `dataset`, nullable here when `nullable`) needs: to be
/// added, or to be widened and then made nullable.
fn model_column(
    table: &Table<'_>,
    dataset: &str,
    column: &Column,
    nullable: bool,
) -> Vec<ChangeOrRefusal> {
    match table.column(&column.name) {
        None => vec![add_model_column(table, dataset, column, nullable)],
        Some(found) => [
            type_change(table, dataset, column, found),
            nullability_change(table, dataset, &column.name, found.nullable, nullable),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}

/// A model column the table does not have: added when nullable, refused otherwise.
fn add_model_column(
    table: &Table<'_>,
    dataset: &str,
    column: &Column,
    nullable: bool,
) -> ChangeOrRefusal {
    let (name, quoted) = (&column.name, &table.quoted);
    let col = q(name);
    let pg_type = column.data_type.pg_type();
    if !nullable {
        return Err(table.refuse(
            name,
            format!(
                "the model adds it as NOT NULL, but the rows already there have no value for it; \
                 make it nullable in the model (Option<…>), or add it by hand with a default \
                 (ALTER TABLE {quoted} ADD COLUMN {col} {pg_type} NOT NULL DEFAULT …)"
            ),
        ));
    }
    Ok(SchemaChange {
        kind: SchemaChangeKind::AddColumn {
            column: name.clone(),
        },
        statement: Statement::new(
            format!("Add the new column {name} of {dataset}: existing rows hold NULL in it"),
            format!("ALTER TABLE {quoted} ADD COLUMN {col} {pg_type}"),
        ),
    })
}

/// A model column whose type differs from the table's: widened in place when that keeps
/// every value, refused otherwise.
fn type_change(
    table: &Table<'_>,
    dataset: &str,
    column: &Column,
    found: &ExistingColumn,
) -> Option<ChangeOrRefusal> {
    let (name, to) = (&column.name, column.data_type.pg_type());
    if found.pg_type == to {
        return None;
    }
    Some(match widening(&found.pg_type, column.data_type) {
        Ok(()) => Ok(SchemaChange {
            kind: SchemaChangeKind::Widen {
                column: name.clone(),
            },
            statement: Statement::new(
                format!("Widen {name} of {dataset} from {} to {to}", found.pg_type),
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {to}",
                    table.quoted,
                    q(name)
                ),
            ),
        }),
        Err(why) => Err(table.refuse(
            name,
            format!(
                "the table has {}, the model says {}; {why}",
                found.pg_type, column.data_type
            ),
        )),
    })
}

/// A model column whose nullability differs from the table's: NOT NULL dropped when it may
/// now hold NULL; refused when it may no longer.
fn nullability_change(
    table: &Table<'_>,
    dataset: &str,
    name: &str,
    was_nullable: bool,
    nullable: bool,
) -> Option<ChangeOrRefusal> {
    match (was_nullable, nullable) {
        (false, true) => Some(Ok(drop_not_null(&table.quoted, name, dataset))),
        (true, false) => Some(Err(table.refuse(
            name,
            "the model makes it NOT NULL, but rows already there may hold NULL; \
             keep it nullable, or fill the NULLs and set NOT NULL by hand"
                .into(),
        ))),
        _ => None,
    }
}

/// What one of the platform's own columns needs: to be added (when nullable) or made
/// nullable; a NOT NULL one that is missing means the table was changed by hand.
fn platform_column(table: &Table<'_>, column: &PlatformColumn) -> Option<ChangeOrRefusal> {
    match table.column(column.name) {
        None if column.nullable => Some(Ok(SchemaChange {
            kind: SchemaChangeKind::AddColumn {
                column: column.name.to_owned(),
            },
            statement: Statement::new(
                format!(
                    "Add the platform's column {} to {}",
                    column.name, table.name
                ),
                format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    table.quoted,
                    q(column.name),
                    column.definition()
                ),
            ),
        })),
        None => Some(Err(table.refuse(
            column.name,
            "the platform's own column is missing; the table was changed by hand".into(),
        ))),
        Some(found) if column.nullable && !found.nullable => {
            Some(Ok(drop_not_null(&table.quoted, column.name, table.name)))
        }
        Some(_) => None,
    }
}

/// A column of the table that neither the model nor the platform has: left alone (`Ok`)
/// when it was added by hand and rows can still be written, refused otherwise — infra
/// never drops a column.
fn unknown_column(
    table: &Table<'_>,
    column: &ExistingColumn,
    staging: Option<&ExistingTable>,
) -> Result<(), Refusal> {
    // Infra gives a dataset's staging and merge tables the same columns: one that only
    // the merge table has was added there by hand.
    let by_hand = staging.is_some_and(|s| !s.columns.iter().any(|c| c.name == column.name));
    let drop_it = format!(
        "ALTER TABLE {} DROP COLUMN {}",
        table.quoted,
        q(&column.name)
    );
    match (by_hand, column.nullable || column.has_default) {
        (true, true) => Ok(()),
        (true, false) => Err(table.refuse(
            &column.name,
            format!(
                "the column was added by hand and is NOT NULL without a default, so the merge cannot write \
                 a row; make it nullable or give it a default, or drop it ({drop_it})"
            ),
        )),
        (false, _) => Err(table.refuse(
            &column.name,
            format!(
                "the model no longer has it, and infra never drops a column or its data; put it back in \
                 the model, or drop it by hand if its data may go ({drop_it})"
            ),
        )),
    }
}

/// Whether the table's primary key is the model's key followed by `suffix`; infra never
/// changes a key.
fn key(table: &Table<'_>, model_key: &[String], suffix: &[&str]) -> Result<(), Refusal> {
    let wanted: Vec<&str> = model_key
        .iter()
        .map(String::as_str)
        .chain(suffix.iter().copied())
        .collect();
    let existing = &table.existing.primary_key;
    if existing
        .iter()
        .map(String::as_str)
        .eq(wanted.iter().copied())
    {
        return Ok(());
    }
    Err(Refusal {
        table: table.name.to_owned(),
        column: None,
        reason: format!(
            "the primary key is ({}) but the model's key makes it ({}); infra does not change keys: \
             the merge history is keyed on the old one. Keep the key, or create a new dataset",
            existing.join(", "),
            wanted.join(", ")
        ),
    })
}

fn drop_not_null(table: &str, column: &str, of: &str) -> SchemaChange {
    SchemaChange {
        kind: SchemaChangeKind::DropNotNull {
            column: column.to_owned(),
        },
        statement: Statement::new(
            format!("{column} of {of} may now hold NULL"),
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
                q(column)
            ),
        ),
    }
}

/// Whether a column of type `from` can become `to` in place without changing any stored
/// value (and so any row hash): longer varchar, varchar to text, more numeric precision
/// at the same scale.
fn widening(from: &str, to: DataType) -> Result<(), &'static str> {
    use DataType::*;
    let Some(from) = DataType::from_pg(from) else {
        return Err("infra only widens varchar and numeric columns");
    };
    match (from, to) {
        (Varchar(m), Varchar(n)) if m <= n => Ok(()),
        (Varchar(_), Text) => Ok(()),
        (Numeric(Some((p, s))), Numeric(Some((p2, s2)))) if s == s2 && p <= p2 => Ok(()),
        (Numeric(Some(_)), Numeric(None)) => {
            Err("a numeric losing its precision and scale would change stored values")
        }
        (Numeric(Some((_, s))), Numeric(Some((_, s2)))) if s != s2 => {
            Err("changing a numeric's scale changes every stored value; keep the scale")
        }
        (Varchar(_) | Numeric(_), _) => {
            Err("that narrows the column: values already there may not fit")
        }
        _ => Err("infra only widens varchar and numeric columns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, pg_type: &str, nullable: bool) -> ExistingColumn {
        ExistingColumn {
            name: name.into(),
            pg_type: pg_type.into(),
            nullable,
            has_default: false,
        }
    }

    fn existing(columns: &[(&str, &str, bool)], key: &[&str]) -> ExistingTable {
        ExistingTable {
            columns: columns
                .iter()
                .map(|(n, t, null)| column(n, t, *null))
                .collect(),
            primary_key: key.iter().map(|k| (*k).into()).collect(),
        }
    }

    const LIVE: Shape<'static> = Shape {
        platform_columns: &[PlatformColumn::new("ds_surf_batch_id", "integer", false)],
        nullable: false,
        key_suffix: Some(&[]),
    };

    fn people() -> DatasetSchema {
        DatasetSchema::new("people")
            .column(Column::new("id", DataType::Integer))
            .column(Column::new("name", DataType::Varchar(50)))
            .key(["id"])
    }

    fn table() -> ExistingTable {
        existing(
            &[
                ("id", "integer", false),
                ("name", "character varying(50)", false),
                ("ds_surf_batch_id", "integer", false),
            ],
            &["id"],
        )
    }

    fn refusals(e: &Evolution) -> String {
        e.refusals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_up_to_date_table_needs_nothing() {
        assert_eq!(
            evolve("t", &people(), LIVE, &table(), None),
            Evolution::default()
        );
    }

    #[test]
    fn nullable_columns_are_added_and_varchar_widened() {
        let model = people()
            .column(Column::nullable("email", DataType::Text))
            .column(Column::nullable("score", DataType::Numeric(Some((12, 2)))));
        let mut model = model;
        model.columns[1] = Column::nullable("name", DataType::Varchar(80));
        let mut t = table();
        t.columns.push(column("score", "numeric(10,2)", true));
        let e = evolve("t", &model, LIVE, &t, None);
        assert_eq!(refusals(&e), "");
        let statements: Vec<&str> = e
            .changes
            .iter()
            .map(|c| c.statement.sql().lines().nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            statements,
            [
                "ALTER TABLE \"t\" ALTER COLUMN \"name\" TYPE character varying(80)",
                "ALTER TABLE \"t\" ALTER COLUMN \"name\" DROP NOT NULL",
                "ALTER TABLE \"t\" ADD COLUMN \"email\" text",
                "ALTER TABLE \"t\" ALTER COLUMN \"score\" TYPE numeric(12,2)",
            ]
        );
        let retyped: Vec<bool> = e.changes.iter().map(SchemaChange::retypes).collect();
        assert_eq!(retyped, [true, false, false, true]);
    }

    #[test]
    fn unsafe_changes_are_refused_with_what_to_do() {
        let mut model = people().column(Column::new("born", DataType::Date));
        model.columns[1].data_type = DataType::Varchar(10);
        model.columns[0].data_type = DataType::BigInt;
        let mut t = table();
        t.columns.push(column("old", "text", true));
        t.primary_key = vec!["name".into()];
        let all = refusals(&evolve("t", &model, LIVE, &t, None));
        for expected in [
            "table t, column id: the table has integer, the model says bigint; infra only widens varchar and numeric columns",
            "table t, column name: the table has character varying(50), the model says varchar(10); that narrows the column",
            "table t, column born: the model adds it as NOT NULL",
            "table t, column old: the model no longer has it, and infra never drops a column",
            "table t: the primary key is (name) but the model's key makes it (id)",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        let mut nullable_to_not = table();
        nullable_to_not.columns[1].nullable = true;
        let refused = refusals(&evolve("t", &people(), LIVE, &nullable_to_not, None));
        assert!(refused.contains("the model makes it NOT NULL"), "{refused}");
        let mut scale =
            people().column(Column::nullable("score", DataType::Numeric(Some((12, 4)))));
        scale.classification = None;
        let mut t = table();
        t.columns.push(column("score", "numeric(10,2)", true));
        let refused = refusals(&evolve("t", &scale, LIVE, &t, None));
        assert!(refused.contains("changing a numeric's scale"), "{refused}");
    }

    #[test]
    fn a_column_added_by_hand_is_left_alone_when_rows_can_still_be_written() {
        let staging = existing(
            &[
                ("id", "integer", false),
                ("name", "character varying(50)", false),
            ],
            &[],
        );
        let mut merge = table();
        merge.columns.push(column("audited_by", "text", true));
        let mut defaulted = column("loaded_at", "timestamp with time zone", false);
        defaulted.has_default = true;
        merge.columns.push(defaulted);
        let e = evolve("t", &people(), LIVE, &merge, Some(&staging));
        assert_eq!(e.ignored, ["audited_by", "loaded_at"]);
        assert_eq!(refusals(&e), "");

        merge.columns.push(column("reviewer", "text", false));
        let refused = refusals(&evolve("t", &people(), LIVE, &merge, Some(&staging)));
        assert!(
            refused.contains("table t, column reviewer: the column was added by hand and is NOT NULL without a default"),
            "{refused}"
        );
    }

    #[test]
    fn a_staging_table_of_an_earlier_shape_takes_the_changes_shape() {
        const STAGING: Shape<'static> = Shape {
            platform_columns: &[
                PlatformColumn::new("ds_surf_all_hash", "uuid", true),
                PlatformColumn::new("ds_surf_op", "text", true),
            ],
            nullable: true,
            key_suffix: None,
        };
        let earlier = existing(
            &[
                ("id", "integer", false),
                ("name", "character varying(50)", false),
                ("ds_surf_all_hash", "uuid", false),
            ],
            &[],
        );
        let e = evolve("s", &people(), STAGING, &earlier, None);
        assert_eq!(refusals(&e), "");
        let statements: Vec<&str> = e
            .changes
            .iter()
            .map(|c| c.statement.sql().lines().nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            statements,
            [
                "ALTER TABLE \"s\" ALTER COLUMN \"id\" DROP NOT NULL",
                "ALTER TABLE \"s\" ALTER COLUMN \"name\" DROP NOT NULL",
                "ALTER TABLE \"s\" ALTER COLUMN \"ds_surf_all_hash\" DROP NOT NULL",
                "ALTER TABLE \"s\" ADD COLUMN \"ds_surf_op\" text",
            ]
        );
    }
}
