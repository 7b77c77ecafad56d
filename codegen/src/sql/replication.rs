//! SQL of logical replication on a source: the publication that says which tables are
//! captured, the slot (with the built-in `pgoutput` plugin) that keeps their changes in the
//! write-ahead log until they are read, and the SQL functions that read changes from the
//! slot and move it on, over an ordinary connection.
//!
//! Names of slots and the publication's name in the option of a peek are bind parameters;
//! `CREATE PUBLICATION` and `DROP PUBLICATION` take none, so there the names are quoted.
//! Positions in the log are [`Lsn`]s, read and bound as `pg_lsn`.

use super::names::{SourceTable, q};
use super::statement::Statement;
use super::typed::{FromSql, Query, Single, ToSql};
use bytes::BytesMut;
use postgres_types::{IsNull, PgLsn, Type};
use std::error::Error;
use std::fmt;
use std::str::FromStr;

/// A position in the write-ahead log: a byte offset, which PostgreSQL writes as two
/// hexadecimal halves (`16/B374D848`). Ordered as the log is; `0/0` is no position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// `0/0`: no position (PostgreSQL's `InvalidXLogRecPtr`).
    pub const INVALID: Lsn = Lsn(0);

    /// Whether it is a position (not `0/0`).
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

impl From<u64> for Lsn {
    fn from(value: u64) -> Self {
        Lsn(value)
    }
}

impl From<Lsn> for u64 {
    fn from(lsn: Lsn) -> u64 {
        lsn.0
    }
}

impl From<PgLsn> for Lsn {
    fn from(lsn: PgLsn) -> Self {
        Lsn(lsn.into())
    }
}

impl From<Lsn> for PgLsn {
    fn from(lsn: Lsn) -> Self {
        PgLsn::from(lsn.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Text that is not an LSN as PostgreSQL writes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLsnError;

impl fmt::Display for ParseLsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not a WAL position (two hexadecimal numbers of 1 to 8 digits, as in 16/B374D848)",
        )
    }
}

impl Error for ParseLsnError {}

impl FromStr for Lsn {
    type Err = ParseLsnError;

    /// `16/B374D848`, as `pg_lsn` accepts it: 1 to 8 hexadecimal digits each side.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let half = |s: &str| {
            if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseLsnError);
            }
            u64::from_str_radix(s, 16).map_err(|_| ParseLsnError)
        };
        let (high, low) = text.split_once('/').ok_or(ParseLsnError)?;
        Ok(Lsn((half(high)? << 32) | half(low)?))
    }
}

impl<'a> FromSql<'a> for Lsn {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        PgLsn::from_sql(ty, raw).map(Lsn::from)
    }

    fn accepts(ty: &Type) -> bool {
        <PgLsn as FromSql>::accepts(ty)
    }
}

impl ToSql for Lsn {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        PgLsn::from(*self).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <PgLsn as ToSql>::accepts(ty)
    }

    postgres_types::to_sql_checked!();
}

crate::params! {
    /// A replication slot, by its name.
    pub struct ReplicationSlot<'a> {
        pub slot: &'a str,
    }
}

crate::params! {
    /// What a peek reads: the slot's changes of the tables of a publication, up to a
    /// position.
    pub struct Peek<'a> {
        pub slot: &'a str,
        /// Only transactions that commit before this position (`None`: all that are
        /// flushed to the log).
        pub upto: Option<Lsn>,
        /// The option `publication_names`: the publication's name quoted, since `pgoutput`
        /// reads it as a list of identifiers (build it with [`Peek::new`]).
        pub publication_names: String,
    }
}

impl<'a> Peek<'a> {
    /// The changes of `slot` up to `upto`, of the tables of `publication`.
    pub fn new(slot: &'a str, upto: Option<Lsn>, publication: &str) -> Self {
        Peek {
            slot,
            upto,
            publication_names: q(publication),
        }
    }
}

crate::params! {
    /// Where to move a slot to.
    pub struct Advance<'a> {
        pub slot: &'a str,
        pub to: Lsn,
    }
}

crate::row! {
    /// A replication slot as `pg_replication_slots` shows it.
    pub struct SlotState {
        /// The output plugin (`pgoutput`); `None` for a physical slot.
        pub plugin: Option<String> = "plugin::text",
        /// The database it decodes; `None` for a physical slot.
        pub database: Option<String> = "database::text",
        /// Whether a session is reading it now.
        pub active: bool = "active",
        /// The oldest position decoding may need: the log is kept from here.
        pub restart_lsn: Option<Lsn> = "restart_lsn",
        /// Every transaction that commits before this position has been consumed.
        pub confirmed_flush_lsn: Option<Lsn> = "confirmed_flush_lsn",
        /// Whether the log it needs is still there: `reserved`, `extended`, `unreserved`,
        /// or `lost` (the slot can no longer be read).
        pub wal_status: Option<String> = "wal_status",
        /// The bytes of log kept for it: the server's current position less `restart_lsn`.
        pub retained_bytes: Option<i64> = "(pg_current_wal_lsn() - restart_lsn)::bigint",
        /// The bytes of log written since the last change it consumed: the server's
        /// current position less `confirmed_flush_lsn`.
        pub lag_bytes: Option<i64> = "(pg_current_wal_lsn() - confirmed_flush_lsn)::bigint",
        /// The bytes that can still be written before it is in danger of losing the log it
        /// needs; `None` when `max_slot_wal_keep_size` is unlimited.
        pub safe_wal_size: Option<i64> = "safe_wal_size",
    }
}

crate::params! {
    /// The start of names: the slots or publications of one platform.
    pub struct Prefix<'a> {
        pub prefix: &'a str,
    }
}

/// The logical slots of the session's database whose names start with a prefix, by name.
pub fn slots_by_prefix() -> Query<Prefix<'static>, Single<String>> {
    Query::new(
        "The logical replication slots of this database whose names start with a prefix",
        format!(
            "SELECT slot_name::text FROM pg_replication_slots \
             WHERE slot_type = 'logical' AND database = current_database() \
             AND left(slot_name::text, length({0})) = {0} ORDER BY 1",
            Prefix::prefix
        ),
    )
}

/// The publications of the session's database whose names start with a prefix, by name.
pub fn publications_by_prefix() -> Query<Prefix<'static>, Single<String>> {
    Query::new(
        "The publications of this database whose names start with a prefix",
        format!(
            "SELECT pubname::text FROM pg_publication \
             WHERE left(pubname::text, length({0})) = {0} ORDER BY 1",
            Prefix::prefix
        ),
    )
}

/// The tables a publication publishes, as `schema.table` (unquoted), by name.
pub fn publication_tables() -> Query<Publication<'static>, Single<String>> {
    Query::new(
        "The tables a publication publishes",
        format!(
            "SELECT schemaname::text || '.' || tablename::text FROM pg_publication_tables \
             WHERE pubname = {} ORDER BY 1",
            Publication::publication
        ),
    )
}

crate::row! {
    /// What logical replication needs of a server and of the session's role.
    pub struct ReplicationSettings {
        /// `logical` for a slot to decode the log.
        pub wal_level: String = "current_setting('wal_level')",
        pub max_replication_slots: i32 = "current_setting('max_replication_slots')::integer",
        /// The slots of the whole server, of every kind.
        pub used_slots: i32 = "(SELECT count(*) FROM pg_replication_slots)::integer",
        pub max_wal_senders: i32 = "current_setting('max_wal_senders')::integer",
        /// The WAL senders running (streaming replicas and subscriptions).
        pub used_wal_senders: i32 = "(SELECT count(*) FROM pg_stat_replication)::integer",
        /// How much log a slot may keep, in megabytes; -1 is no limit.
        pub max_slot_wal_keep_size_mb: i64 =
            "(SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size')",
        /// Whether the session's role has the `REPLICATION` attribute.
        pub replication: bool = "(SELECT rolreplication FROM pg_roles WHERE rolname = current_user)",
        pub superuser: bool = "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
        pub user_name: String = "current_user::text",
    }
}

/// What logical replication needs of the server and of the session's role.
pub fn replication_settings() -> Query<(), ReplicationSettings> {
    Query::new(
        "What logical replication needs of the server and the role",
        format!("SELECT {}", ReplicationSettings::select_list()),
    )
}

crate::row! {
    /// Which old values a table's changes carry: its replica identity.
    pub struct ReplicaIdentity {
        /// `d` (default: the primary key), `n` (nothing), `f` (full: every column) or `i`
        /// (an index).
        pub identity: String = "c.relreplident::text",
        /// The columns of the index the identity uses (the primary key's for `d`), none
        /// when there is no such index.
        pub columns: Vec<String> = "coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) \
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
            WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary \
            WHEN 'i' THEN i.indisreplident ELSE false END), '{}')",
    }
}

/// A table's replica identity; no row when there is no such table.
pub fn replica_identity() -> Query<super::catalog::Relation, ReplicaIdentity> {
    Query::new(
        "Which old values a table's changes carry",
        format!(
            "SELECT {} FROM pg_class c WHERE c.oid = to_regclass({})",
            ReplicaIdentity::select_list(),
            super::catalog::Relation::table
        ),
    )
}

crate::row! {
    /// One message of a peek, as the SQL function returns it.
    pub struct Change {
        /// Where it is in the log.
        pub lsn: Lsn = "lsn",
        /// Its transaction's id (a 32-bit `xid`).
        pub xid: i64 = "xid::text::bigint",
        /// One `pgoutput` message.
        pub data: Vec<u8> = "data",
    }
}

/// Creates `publication` for `tables`, with every kind of change (`CREATE PUBLICATION`
/// takes no parameters; the names are quoted). With no table it publishes nothing until
/// tables are added.
pub fn create_publication(publication: &str, tables: &[SourceTable]) -> Statement {
    let mut body = format!("CREATE PUBLICATION {}", q(publication));
    if !tables.is_empty() {
        let list: Vec<&str> = tables.iter().map(|t| t.quoted.as_str()).collect();
        body.push_str(&format!(" FOR TABLE {}", list.join(", ")));
    }
    body.push_str(" WITH (publish = 'insert, update, delete, truncate')");
    Statement::new(
        format!("Create the publication {publication} of the captured tables"),
        body,
    )
}

/// Sets the tables `publication` publishes to exactly `tables` (a model change may add or
/// remove a dataset).
pub fn set_publication_tables(publication: &str, tables: &[SourceTable]) -> Statement {
    let list: Vec<&str> = tables.iter().map(|t| t.quoted.as_str()).collect();
    Statement::new(
        format!("Publish exactly the captured tables in {publication}"),
        format!(
            "ALTER PUBLICATION {} SET TABLE {}",
            q(publication),
            list.join(", ")
        ),
    )
}

crate::params! {
    /// A publication, by its name.
    pub struct Publication<'a> {
        pub publication: &'a str,
    }
}

/// Whether a publication exists.
pub fn publication_exists() -> Query<Publication<'static>, Single<bool>> {
    Query::new(
        "Whether a publication exists",
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {})",
            Publication::publication
        ),
    )
}

/// The server's insert position in the log: where the next record will go, so every
/// record before it is whole. The upper bound of a batch, once [`flush_log`] has made sure
/// the log is flushed up to it.
pub fn insert_lsn() -> Query<(), Single<Lsn>> {
    Query::new(
        "The server's insert position in the write-ahead log",
        "SELECT pg_current_wal_insert_lsn()",
    )
}

/// Flushes the log up to here: a transaction that writes to the log (a transactional
/// logical decoding message, which `pgoutput` does not send unless asked), committed
/// synchronously, waits until every record before its commit is on disk. A slot decodes
/// only flushed log, so after this a peek up to an earlier [`insert_lsn`] returns every
/// transaction that committed before it — also on a server whose commits do not wait for
/// the flush. (A transaction that only takes an id writes nothing, and its commit flushes
/// nothing.)
pub fn flush_log() -> Statement {
    Statement::new(
        "Make sure the log is flushed up to here",
        "BEGIN; SET LOCAL synchronous_commit = on; \
         SELECT pg_logical_emit_message(true, 'datasurface', 'flush'); COMMIT",
    )
}

/// The next transaction id the server will hand out: read after an [`insert_lsn`], every
/// transaction that committed before that position has a smaller id.
pub fn next_xid() -> Query<(), Single<i64>> {
    Query::new(
        "The next transaction id the server will hand out",
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    )
}

/// The oldest transaction id still running as the transaction's snapshot sees it: when it
/// is at least a [`next_xid`] read earlier, every transaction older than that had ended
/// when the snapshot was taken, so the snapshot sees all that committed before the
/// position read with it.
pub fn oldest_running() -> Query<(), Single<i64>> {
    Query::new(
        "The oldest transaction still running, as the snapshot sees it",
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
    )
}

/// Drops `publication` when it exists.
pub fn drop_publication(publication: &str) -> Statement {
    Statement::new(
        format!("Drop the publication {publication}"),
        format!("DROP PUBLICATION IF EXISTS {}", q(publication)),
    )
}

/// Creates a logical replication slot with the `pgoutput` plugin; the position from which
/// it decodes (its consistent point). Refused inside a transaction that has written.
pub fn create_slot() -> Query<ReplicationSlot<'static>, Single<Lsn>> {
    Query::new(
        "Create a logical replication slot with the pgoutput plugin",
        format!(
            "SELECT lsn FROM pg_create_logical_replication_slot({}, 'pgoutput')",
            ReplicationSlot::slot
        ),
    )
}

/// Drops a replication slot when it exists; the number of rows is the number dropped.
/// Refused while a session reads it.
pub fn drop_slot() -> Query<ReplicationSlot<'static>> {
    Query::new(
        "Drop a replication slot",
        format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = {}",
            ReplicationSlot::slot
        ),
    )
}

/// The state of a replication slot; no row when there is no such slot.
pub fn slot_state() -> Query<ReplicationSlot<'static>, SlotState> {
    Query::new(
        "The state of a replication slot",
        format!(
            "SELECT {} FROM pg_replication_slots WHERE slot_name = {}",
            SlotState::select_list(),
            ReplicationSlot::slot
        ),
    )
}

/// The server's position in the log up to which it is flushed: the upper bound of a batch.
/// A slot decodes only flushed log, and with `synchronous_commit = off` a transaction is
/// visible before its commit is flushed; bounding by the flushed position, every
/// transaction before the bound can be decoded, so a peek up to it returns all of them.
pub fn current_lsn() -> Query<(), Single<Lsn>> {
    Query::new(
        "The server's position in the write-ahead log up to which it is flushed",
        "SELECT pg_current_wal_flush_lsn()",
    )
}

/// The slot's changes, one `pgoutput` message (protocol version 1, values as text) a row,
/// in log order, without consuming them: the same call returns them again until the slot
/// is advanced.
pub fn peek() -> Query<Peek<'static>, Change> {
    Query::new(
        "Read the changes of a replication slot without consuming them",
        format!(
            "SELECT {} FROM pg_logical_slot_peek_binary_changes({}, {}, NULL, \
             'proto_version', '1', 'publication_names', {})",
            Change::select_list(),
            Peek::slot,
            Peek::upto,
            Peek::publication_names
        ),
    )
}

/// Moves a slot on to a position: the changes before it are consumed, and the log they
/// need may be removed. The position it moved to.
pub fn advance() -> Query<Advance<'static>, Single<Lsn>> {
    Query::new(
        "Move a replication slot on, consuming its changes before the position",
        format!(
            "SELECT end_lsn FROM pg_replication_slot_advance({}, {})",
            Advance::slot,
            Advance::to
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::typed::Params;

    #[test]
    fn lsns_read_and_write_as_postgresql_does() {
        let lsn: Lsn = "16/B374D848".parse().expect("an LSN");
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse(), Ok(Lsn::INVALID));
        assert!(!Lsn::INVALID.is_valid());
        assert_eq!(
            "FFFFFFFF/FFFFFFFF".parse::<Lsn>().map(u64::from),
            Ok(u64::MAX)
        );
        assert_eq!("0/a".parse(), Ok(Lsn(10)));
        for bad in [
            "",
            "/",
            "16",
            "16/",
            "/1",
            "1/2/3",
            "123456789/0",
            "0/123456789",
            "+1/2",
            "1/-2",
            "1 /2",
            "g/0",
        ] {
            assert_eq!(bad.parse::<Lsn>(), Err(ParseLsnError), "{bad:?}");
        }
        assert!(Lsn(0x1_0000_0000) > Lsn(0xFFFF_FFFF));
        assert_eq!(Lsn::from(PgLsn::from(7)), Lsn(7));
    }

    #[test]
    fn lsns_are_pg_lsn_values() {
        let mut out = BytesMut::new();
        Lsn(0x16_B374_D848)
            .to_sql(&Type::PG_LSN, &mut out)
            .expect("written");
        assert_eq!(&out[..], &0x16_B374_D848_u64.to_be_bytes());
        assert_eq!(
            Lsn::from_sql(&Type::PG_LSN, &out).expect("read"),
            Lsn(0x16_B374_D848)
        );
        assert!(<Lsn as ToSql>::accepts(&Type::PG_LSN));
        assert!(!<Lsn as FromSql>::accepts(&Type::INT8));
    }

    #[test]
    fn publications_quote_their_names_and_tables() {
        let tables = [
            SourceTable::new("public", "people"),
            SourceTable::new("Sales", "Order Lines"),
        ];
        let create = create_publication("DS pub", &tables);
        assert_eq!(
            create.sql(),
            "-- Create the publication DS pub of the captured tables.\n\
             CREATE PUBLICATION \"DS pub\" FOR TABLE \"public\".\"people\", \"Sales\".\"Order Lines\" \
             WITH (publish = 'insert, update, delete, truncate')"
        );
        assert_eq!(
            create_publication("p", &[]).sql(),
            "-- Create the publication p of the captured tables.\n\
             CREATE PUBLICATION \"p\" WITH (publish = 'insert, update, delete, truncate')"
        );
        assert_eq!(
            drop_publication("a\"b").sql(),
            "-- Drop the publication a\"b.\nDROP PUBLICATION IF EXISTS \"a\"\"b\""
        );
    }

    #[test]
    fn slot_statements_bind_their_values() {
        let slot = ReplicationSlot { slot: "ds_slot" };
        assert_eq!(slot.values().len(), 1);
        assert_eq!(
            create_slot().statement().sql(),
            "-- Create a logical replication slot with the pgoutput plugin.\n\
             SELECT lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')"
        );
        assert_eq!(
            drop_slot().statement().sql(),
            "-- Drop a replication slot.\n\
             SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1"
        );
        assert_eq!(
            slot_state().statement().sql(),
            "-- The state of a replication slot.\n\
             SELECT plugin::text, database::text, active, restart_lsn, confirmed_flush_lsn, \
             wal_status, (pg_current_wal_lsn() - restart_lsn)::bigint, \
             (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, safe_wal_size \
             FROM pg_replication_slots WHERE slot_name = $1"
        );
        assert_eq!(
            current_lsn().statement().sql(),
            "-- The server's position in the write-ahead log up to which it is flushed.\n\
             SELECT pg_current_wal_flush_lsn()"
        );
        assert_eq!(
            advance().statement().sql(),
            "-- Move a replication slot on, consuming its changes before the position.\n\
             SELECT end_lsn FROM pg_replication_slot_advance($1, $2)"
        );
        let to = Advance {
            slot: "ds_slot",
            to: Lsn(1),
        };
        assert_eq!(to.values().len(), 2);
    }

    #[test]
    fn names_by_prefix_bind_the_prefix_once() {
        let prefix = Prefix {
            prefix: "corp_yellowlive_",
        };
        assert_eq!(prefix.values().len(), 1);
        assert_eq!(
            slots_by_prefix().statement().sql(),
            "-- The logical replication slots of this database whose names start with a prefix.\n\
             SELECT slot_name::text FROM pg_replication_slots \
             WHERE slot_type = 'logical' AND database = current_database() \
             AND left(slot_name::text, length($1)) = $1 ORDER BY 1"
        );
        assert!(publications_by_prefix().statement().sql().ends_with(
            "FROM pg_publication WHERE left(pubname::text, length($1)) = $1 ORDER BY 1"
        ));
        assert!(
            publication_tables()
                .statement()
                .sql()
                .contains("WHERE pubname = $1")
        );
        assert!(
            replica_identity()
                .statement()
                .sql()
                .ends_with("FROM pg_class c WHERE c.oid = to_regclass($1)")
        );
        assert!(replication_settings().statement().sql().contains(
            "current_setting('wal_level'), current_setting('max_replication_slots')::integer"
        ));
    }

    #[test]
    fn peeks_read_protocol_1_of_a_quoted_publication() {
        assert_eq!(
            peek().statement().sql(),
            "-- Read the changes of a replication slot without consuming them.\n\
             SELECT lsn, xid::text::bigint, data \
             FROM pg_logical_slot_peek_binary_changes($1, $2, NULL, \
             'proto_version', '1', 'publication_names', $3)"
        );
        let p = Peek::new("ds_slot", Some(Lsn(5)), "Store1 pub");
        assert_eq!(p.publication_names, "\"Store1 pub\"");
        assert_eq!(p.values().len(), 3);
        assert_eq!(Peek::new("s", None, "p").publication_names, "\"p\"");
    }
}
