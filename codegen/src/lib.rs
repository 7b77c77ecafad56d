//! Artifact generation for DataSurface Yellow.
//!
//! Pure functions from a validated model to the text that runs it: [`generate`] gives
//! every artifact as (path, contents). [`sql`] holds the DDL, snapshot, diff and merge
//! statements the runtime executes, so what runs is exactly what the snapshots show;
//! [`dags`] renders the Airflow DAGs (Askama templates in `codegen/templates/`); [`kube`]
//! builds the Kubernetes objects as typed k8s-openapi values, in the order they are
//! applied; the Dockerfile and the secrets guide complete the set. Generation does no I/O
//! and touches no database: the same model always gives byte-identical text.

mod artifact;
pub mod dags;
mod exit;
mod generate;
mod image;
pub mod kube;
pub mod observe;
mod pods;
mod secrets;
pub mod sql;
mod sql_files;
mod text;

pub use artifact::{Artifact, Context};
pub use dags::dag_files;
pub use exit::Exit;
pub use generate::{generate, generate_each};
pub use image::{
    DEV_TAG_SUFFIX, IMAGE_LOCK, IMAGE_UID, ImageLock, dags_pin_args, dev_image, image, image_tag,
};
pub use kube::images;
pub use pods::JOB_SERVICE_ACCOUNT;
pub use secrets::{RequiredSecret, required_secrets};
