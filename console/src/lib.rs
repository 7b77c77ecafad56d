//! The DataSurface console: see the platform.
//!
//! - [`server`]: `serve`, a read-only web console of the ecosystem — the catalog (zones,
//!   teams, datastores, datasets, workspaces, platforms), lineage drawn on the server, live
//!   batch health and freshness against what consumers declared, who reads personal data,
//!   and `/metrics` for Prometheus, read from the merge databases;
//! - [`site`]: `docs --out DIR`, the same catalog as static HTML from the model alone.
//!
//! Pages are rendered on the server with Askama and work without JavaScript. Nothing here
//! shows a row of data or a secret: the console reads the batch tables and the model only.

pub mod catalog;
pub mod health;
pub mod lineage;
pub mod links;
pub mod metrics;
pub mod pages;
pub mod server;
pub mod site;
pub mod summary;
pub mod trend;

pub use server::{Console, serve};
