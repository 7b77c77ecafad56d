//! Logical replication, the foundation of capturing a source's changes from its
//! write-ahead log rather than from snapshots: the decoder of what the built-in `pgoutput`
//! plugin sends (`pgoutput.rs`), and positions in the log ([`Lsn`]).
//!
//! Changes are read over an ordinary connection with the SQL functions of a logical slot
//! (`pg_logical_slot_peek_binary_changes`, then `pg_replication_slot_advance`), whose
//! statements are in `datasurface_codegen::sql::replication`; each row is one `pgoutput`
//! message, which [`decode`] reads.
//!
//! The module is public but hidden from the documentation: it is not part of the engine's
//! API yet. It is public so that the `datasurface` crate's integration tests can decode
//! what a real server sends; the capture that will use it decides what, if anything, users
//! see of it.

mod pgoutput;

pub use datasurface_codegen::sql::replication::{Lsn, ParseLsnError};
pub use pgoutput::{
    Begin, Commit, DecodeError, Delete, Insert, Kind, LogicalMessage, Message, OldTuple, Origin,
    Problem, Relation, RelationColumn, ReplicaIdentity, Timestamp, Truncate, Tuple, Type, Update,
    Value, decode,
};
