//! Catalog queries: what a database has of a table, asked the same way of a source and of
//! the merge database. `$1` is always the table's quoted, schema-qualified name
//! (`"public"."customers"`), so the answer never depends on the role's `search_path`.

use super::statement::Statement;

/// `$1` the table → its oid as text, or NULL when there is no such table or view.
pub fn exists() -> Statement {
    Statement::new(
        "Whether the table exists",
        "SELECT to_regclass($1)::oid::text",
    )
}

/// `$1` the table → (name, type as `format_type()` spells it, nullable, has a default) per
/// column, in order.
pub fn columns() -> Statement {
    Statement::new(
        "The columns of a table or view, in order",
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.atthasdef \
         FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
}

/// `$1` the table → its primary-key column names, in key order.
pub fn primary_key() -> Statement {
    Statement::new(
        "The primary-key columns of a table, in key order",
        "SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(n, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n \
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.ord",
    )
}

/// `$1` the table → the column names of each unique index that the server enforces on
/// every row: valid (a failed `CREATE UNIQUE INDEX CONCURRENTLY` leaves an invalid one
/// behind), unconditional, on plain columns.
pub fn unique_indexes() -> Statement {
    Statement::new(
        "The enforced unique indexes of a table, as lists of column names",
        "SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey) AS k(n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) \
         FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid \
         AND i.indpred IS NULL AND i.indexprs IS NULL",
    )
}
