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

/// `$1` the table → the names of its columns whose collation sorts text by its bytes, as
/// `COLLATE "C"` does: an explicit `C`, `POSIX` or `ucs_basic`, or the default collation of
/// a database created with a `C` or `POSIX` libc locale.
pub fn byte_ordered_columns() -> Statement {
    Statement::new(
        "The columns of a table whose collation sorts text by its bytes",
        "SELECT a.attname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         AND (c.collname IN ('C', 'POSIX', 'ucs_basic') OR (c.collname = 'default' \
         AND current_setting('lc_collate') IN ('C', 'POSIX') \
         AND (SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') FROM pg_database d \
         WHERE d.datname = current_database()) = 'c'))",
    )
}

/// `$1` the table → whether the session's user may read it.
pub fn can_read() -> Statement {
    Statement::new(
        "Whether the session's user may read the table",
        "SELECT has_table_privilege($1, 'SELECT')",
    )
}

/// `$1` a schema → whether the session's user may create tables in it, and use it.
pub fn can_create_in() -> Statement {
    Statement::new(
        "Whether the session's user may create tables in the schema",
        "SELECT has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE')",
    )
}

/// The server's version, the session's user, and whether the connection is encrypted.
pub fn session() -> Statement {
    Statement::new(
        "The server's version, the session's user, whether the connection is encrypted, and \
         the database",
        "SELECT current_setting('server_version'), current_user::text, \
         coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
         current_database()::text",
    )
}
