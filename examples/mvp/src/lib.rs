//! The MVP ecosystem of DataSurface Yellow, as a model repo writes it.
//!
//! One team's `customer_db` (customers and their addresses) is captured every minute by
//! SQL snapshot and served to the workspace `Consumer1` twice: live (the current row per
//! key) on YellowLive, and with full history on YellowForensic.

use datasurface::*;

mod model;
pub mod orders;
#[cfg(feature = "dev")]
pub mod scenario;

pub use model::{Address, Customer, ecosystem};

/// The DDL that creates the source tables of `Store1` as the model declares them, in
/// `customer_db`'s `public` schema.
pub fn source_ddl() -> String {
    [Customer::schema(), Address::schema()]
        .iter()
        .map(|d| {
            codegen::sql::source::SourceSql::new("public", d)
                .create_table
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(";\n")
}
