//! Artifact generation for DataSurface Yellow.
//!
//! This crate will own the pure functions from a validated model to the files that run it:
//! the DDL and merge SQL the runtime executes, the Airflow DAGs (Askama templates in
//! `codegen/templates/`), the Kubernetes objects, the Dockerfile and the secrets guide.
//! Generation does no I/O and touches no database: the same model always gives
//! byte-identical artifacts.
