//! The development tools of DataSurface, for any model: a throwaway PostgreSQL
//! ([`postgres`]), the data change [`simulate`]or, and [`demo`], which runs the whole
//! pipeline on this machine. The `datasurface` crate's `dev` feature puts them on a model's
//! command line; production images carry none of them.

pub mod demo;
pub mod postgres;
pub mod simulate;

pub use simulate::{Change, Generic, Key, Kind, Made, Making, Row, Scenario, Seed};
