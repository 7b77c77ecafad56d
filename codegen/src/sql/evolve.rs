//! Schema evolution: the DDL that brings an existing table to the model, or the reasons it
//! cannot be done safely. Pure: the runtime reads the catalog and passes what it found.

use super::q;
use datasurface_model::{DataType, DatasetSchema};

/// A column as the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingColumn {
    pub name: String,
    /// As `format_type()` spells it.
    pub pg_type: String,
    pub nullable: bool,
}

/// A table as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExistingTable {
    pub columns: Vec<ExistingColumn>,
    /// Primary-key columns, in key order (empty when there is none).
    pub primary_key: Vec<String>,
}

/// What a table must look like beyond the dataset's own columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape<'a> {
    /// The platform's own columns (`ds_surf_…`), left as they are.
    pub platform_columns: &'a [&'a str],
    /// The platform columns that follow the dataset's key in the primary key
    /// (`ds_surf_batch_in` on forensic merge tables); `None` when the table has no key.
    pub key_suffix: Option<&'a [&'a str]>,
}

/// The statements that evolve `table` (its quoted name) from `existing` to `dataset`, or
/// every reason it cannot be done without losing or rewriting data.
pub fn evolve(
    table: &str,
    dataset: &DatasetSchema,
    shape: Shape<'_>,
    existing: &ExistingTable,
) -> Result<Vec<String>, Vec<String>> {
    let mut ddl = Vec::new();
    let mut refused = Vec::new();
    let at = |column: &str| format!("table {}, column {column}", table.trim_matches('"'));
    for column in &dataset.columns {
        let found = existing.columns.iter().find(|c| c.name == column.name);
        match found {
            None if column.nullable => ddl.push(format!(
                "-- Add the new column {name} of {ds}: existing rows hold NULL in it.\n\
                 ALTER TABLE {table} ADD COLUMN {col} {ty}",
                name = column.name,
                ds = dataset.name,
                col = q(&column.name),
                ty = column.data_type.pg_type(),
            )),
            None => refused.push(format!(
                "{}: the model adds it as NOT NULL, but the rows already there have no value for it; \
                 make it nullable in the model (Option<…>), or add it by hand with a default \
                 (ALTER TABLE {table} ADD COLUMN {} {} NOT NULL DEFAULT …)",
                at(&column.name),
                q(&column.name),
                column.data_type.pg_type()
            )),
            Some(found) => {
                if found.pg_type != column.data_type.pg_type() {
                    match widening(&found.pg_type, column.data_type) {
                        Ok(()) => ddl.push(format!(
                            "-- Widen {name} of {ds} from {from} to {to}.\n\
                             ALTER TABLE {table} ALTER COLUMN {col} TYPE {to}",
                            name = column.name,
                            ds = dataset.name,
                            from = found.pg_type,
                            to = column.data_type.pg_type(),
                            col = q(&column.name),
                        )),
                        Err(why) => refused.push(format!(
                            "{}: the table has {}, the model says {}; {why}",
                            at(&column.name),
                            found.pg_type,
                            column.data_type
                        )),
                    }
                }
                match (found.nullable, column.nullable) {
                    (false, true) => ddl.push(format!(
                        "-- {name} of {ds} may now hold NULL.\nALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL",
                        name = column.name,
                        ds = dataset.name,
                        col = q(&column.name),
                    )),
                    (true, false) => refused.push(format!(
                        "{}: the model makes it NOT NULL, but rows already there may hold NULL; \
                         keep it nullable, or fill the NULLs and set NOT NULL by hand",
                        at(&column.name)
                    )),
                    _ => {}
                }
            }
        }
    }
    for column in &existing.columns {
        let known = dataset.columns.iter().any(|c| c.name == column.name)
            || shape.platform_columns.contains(&column.name.as_str());
        if !known {
            refused.push(format!(
                "{}: the model no longer has it, and infra never drops a column or its data; put it back in \
                 the model, or drop it by hand if its data may go (ALTER TABLE {table} DROP COLUMN {})",
                at(&column.name),
                q(&column.name)
            ));
        }
    }
    if let Some(suffix) = shape.key_suffix {
        let wanted: Vec<&str> = dataset
            .primary_key
            .iter()
            .map(String::as_str)
            .chain(suffix.iter().copied())
            .collect();
        if existing
            .primary_key
            .iter()
            .map(String::as_str)
            .ne(wanted.iter().copied())
        {
            refused.push(format!(
                "table {}: the primary key is ({}) but the model's key makes it ({}); infra does not change keys: \
                 the merge history is keyed on the old one. Keep the key, or create a new dataset",
                table.trim_matches('"'),
                existing.primary_key.join(", "),
                wanted.join(", ")
            ));
        }
    }
    if refused.is_empty() {
        Ok(ddl)
    } else {
        Err(refused)
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
    use datasurface_model::Column;

    fn existing(columns: &[(&str, &str, bool)], key: &[&str]) -> ExistingTable {
        ExistingTable {
            columns: columns
                .iter()
                .map(|(n, t, null)| ExistingColumn {
                    name: (*n).into(),
                    pg_type: (*t).into(),
                    nullable: *null,
                })
                .collect(),
            primary_key: key.iter().map(|k| (*k).into()).collect(),
        }
    }

    const LIVE: Shape<'static> = Shape {
        platform_columns: &["ds_surf_batch_id"],
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

    #[test]
    fn an_up_to_date_table_needs_nothing() {
        assert_eq!(evolve("\"t\"", &people(), LIVE, &table()), Ok(vec![]));
    }

    #[test]
    fn nullable_columns_are_added_and_varchar_widened() {
        let model = people()
            .column(Column::nullable("email", DataType::Text))
            .column(Column::nullable("score", DataType::Numeric(Some((12, 2)))));
        let mut model = model;
        model.columns[1] = Column::nullable("name", DataType::Varchar(80));
        let mut t = table();
        t.columns.push(ExistingColumn {
            name: "score".into(),
            pg_type: "numeric(10,2)".into(),
            nullable: true,
        });
        let ddl = evolve("\"t\"", &model, LIVE, &t).expect("evolves");
        let statements: Vec<&str> = ddl.iter().map(|d| d.lines().nth(1).unwrap_or("")).collect();
        assert_eq!(
            statements,
            [
                "ALTER TABLE \"t\" ALTER COLUMN \"name\" TYPE character varying(80)",
                "ALTER TABLE \"t\" ALTER COLUMN \"name\" DROP NOT NULL",
                "ALTER TABLE \"t\" ADD COLUMN \"email\" text",
                "ALTER TABLE \"t\" ALTER COLUMN \"score\" TYPE numeric(12,2)",
            ]
        );
    }

    #[test]
    fn unsafe_changes_are_refused_with_what_to_do() {
        let mut model = people().column(Column::new("born", DataType::Date));
        model.columns[1].data_type = DataType::Varchar(10);
        model.columns[0].data_type = DataType::BigInt;
        let mut t = table();
        t.columns.push(ExistingColumn {
            name: "old".into(),
            pg_type: "text".into(),
            nullable: true,
        });
        t.primary_key = vec!["name".into()];
        let refused = evolve("\"t\"", &model, LIVE, &t).expect_err("refused");
        let all = refused.join("\n");
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
        let refused = evolve("\"t\"", &people(), LIVE, &nullable_to_not).expect_err("refused");
        assert!(
            refused[0].contains("the model makes it NOT NULL"),
            "{refused:?}"
        );
        let mut scale =
            people().column(Column::nullable("score", DataType::Numeric(Some((12, 4)))));
        scale.classification = None;
        let mut t = table();
        t.columns.push(ExistingColumn {
            name: "score".into(),
            pg_type: "numeric(10,2)".into(),
            nullable: true,
        });
        let refused = evolve("\"t\"", &scale, LIVE, &t).expect_err("refused");
        assert!(
            refused[0].contains("changing a numeric's scale"),
            "{refused:?}"
        );
    }
}
