//! Catalog queries: what a database has of a table, asked the same way of a source and of
//! the merge database. A table is always given quoted and schema-qualified when it has a
//! schema ([`Relation`]: `"public"."customers"`), so the answer never depends on the role's
//! `search_path`.

use super::names::{SourceTable, q};
use super::typed::{Query, Single};

crate::params! {
    /// A table or view, as the catalog functions take it.
    pub struct Relation {
        /// Quoted, and qualified by its schema when it has one.
        pub table: String,
    }
}

impl Relation {
    /// A source table.
    pub fn source(table: &SourceTable) -> Self {
        Relation {
            table: table.quoted.clone(),
        }
    }

    /// Table `name` of schema `schema`.
    pub fn in_schema(schema: &str, name: &str) -> Self {
        Relation::source(&SourceTable::new(schema, name))
    }

    /// A table of the merge database, by its name there (the platform's tables live in its
    /// default schema).
    pub fn merge(name: &str) -> Self {
        Relation { table: q(name) }
    }
}

crate::params! {
    /// A schema, by its name.
    pub struct Schema<'a> {
        pub schema: &'a str,
    }
}

crate::row! {
    /// A column of a table, as the catalog has it.
    pub struct Column {
        pub name: String = "a.attname::text",
        /// The type as `format_type()` spells it (`character varying(100)`).
        pub pg_type: String = "format_type(a.atttypid, a.atttypmod)",
        pub nullable: bool = "NOT a.attnotnull",
        pub has_default: bool = "a.atthasdef",
    }
}

crate::row! {
    /// Who and where a session is.
    pub struct Session {
        pub server_version: String = "current_setting('server_version')",
        pub user_name: String = "current_user::text",
        /// Whether the connection is encrypted.
        pub tls: bool = "coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
        pub database: String = "current_database()::text",
    }
}

/// The table's oid as text, or NULL when there is no such table or view.
pub fn exists() -> Query<Relation, Single<Option<String>>> {
    Query::new(
        "Whether the table exists",
        format!("SELECT to_regclass({})::oid::text", Relation::table),
    )
}

/// The table's columns, in order.
pub fn columns() -> Query<Relation, Column> {
    Query::new(
        "The columns of a table or view, in order",
        format!(
            "SELECT {} \
             FROM pg_attribute a WHERE a.attrelid = to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            Column::select_list(),
            Relation::table
        ),
    )
}

/// The table's primary-key column names, in key order (without the columns the key's index
/// only includes).
pub fn primary_key() -> Query<Relation, Single<String>> {
    Query::new(
        "The primary-key columns of a table, in key order",
        format!(
            "SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(n, ord) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary AND k.ord <= i.indnkeyatts ORDER BY k.ord",
            Relation::table
        ),
    )
}

/// The names of the table's columns whose collation sorts text by its bytes, as
/// `COLLATE "C"` does: an explicit `C`, `POSIX` or `ucs_basic`, or the default collation of
/// a database created with a `C` or `POSIX` libc locale.
pub fn byte_ordered_columns() -> Query<Relation, Single<String>> {
    Query::new(
        "The columns of a table whose collation sorts text by its bytes",
        format!(
            "SELECT a.attname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation \
             WHERE a.attrelid = to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped \
             AND (c.collname IN ('C', 'POSIX', 'ucs_basic') OR (c.collname = 'default' \
             AND current_setting('lc_collate') IN ('C', 'POSIX') \
             AND (SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') FROM pg_database d \
             WHERE d.datname = current_database()) = 'c'))",
            Relation::table
        ),
    )
}

crate::row! {
    /// How large a table is, and whether its rows are in partitions.
    pub struct TableSize {
        /// Its rows on disk, in bytes, its partitions' included (0 when there is no such
        /// table).
        pub bytes: i64 = "coalesce((SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree(t.r) p), \
            pg_relation_size(t.r), 0)::int8",
        pub partitioned: bool = "coalesce((SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = t.r), false)",
    }
}

/// The table's size, and whether it is partitioned.
pub fn table_size() -> Query<Relation, TableSize> {
    Query::new(
        "The size of a table's rows on disk, and whether it is partitioned",
        format!(
            "SELECT {} FROM (SELECT to_regclass({}) AS r) t",
            TableSize::select_list(),
            Relation::table
        ),
    )
}

/// Whether the session's user may read the table.
pub fn can_read() -> Query<Relation, Single<bool>> {
    Query::new(
        "Whether the session's user may read the table",
        format!("SELECT has_table_privilege({}, 'SELECT')", Relation::table),
    )
}

/// Whether the session's user may create tables in the schema, and use it.
pub fn can_create_in() -> Query<Schema<'static>, Single<bool>> {
    Query::new(
        "Whether the session's user may create tables in the schema",
        format!(
            "SELECT has_schema_privilege({s}, 'CREATE') AND has_schema_privilege({s}, 'USAGE')",
            s = Schema::schema
        ),
    )
}

crate::row! {
    /// How a server's checkpoints came about since its statistics were reset, and the
    /// settings that decide it: a checkpoint requested because the log reached
    /// `max_wal_size` comes sooner than `checkpoint_timeout`, and after every checkpoint the
    /// first change to each page writes the whole page into the log.
    pub struct Checkpoints {
        /// Started by `checkpoint_timeout`.
        pub timed: i64,
        /// Requested: by the log reaching `max_wal_size`, or by a `CHECKPOINT` command.
        pub requested: i64,
        /// When the statistics were last reset.
        pub since: Option<String>,
        /// In megabytes.
        pub max_wal_size_mb: i64 =
            "(SELECT setting::bigint FROM pg_settings WHERE name = 'max_wal_size')",
        /// As the server spells it (`5min`).
        pub checkpoint_timeout: String = "current_setting('checkpoint_timeout')",
        pub full_page_writes: bool = "current_setting('full_page_writes') = 'on'",
    }
}

/// The server's version as a number (`150018` for 15.18).
pub fn server_version_num() -> Query<(), Single<i32>> {
    Query::new(
        "The server's version as a number",
        "SELECT current_setting('server_version_num')::integer",
    )
}

/// How the server's checkpoints came about, on a server of version `server_version_num`
/// (PostgreSQL 17 moved the counts from `pg_stat_bgwriter` to `pg_stat_checkpointer`).
pub fn checkpoints(server_version_num: i32) -> Query<(), Checkpoints> {
    let (timed, requested, view) = if server_version_num >= 170_000 {
        ("num_timed", "num_requested", "pg_stat_checkpointer")
    } else {
        ("checkpoints_timed", "checkpoints_req", "pg_stat_bgwriter")
    };
    Query::new(
        "How the server's checkpoints came about, and the settings that decide it",
        format!(
            "SELECT {} FROM (SELECT {timed} AS timed, {requested} AS requested, \
             to_char(stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"') AS since \
             FROM {view}) AS c",
            Checkpoints::select_list()
        ),
    )
}

/// The server's version, the session's user, whether the connection is encrypted, and the
/// database.
pub fn session() -> Query<(), Session> {
    Query::new(
        "The server's version, the session's user, whether the connection is encrypted, and \
         the database",
        format!("SELECT {}", Session::select_list()),
    )
}
