//! Deployment of a DataSurface ecosystem to Kubernetes, with kube-rs.
//!
//! The objects come typed from `datasurface-codegen`, each with its step of the rollout
//! ([`Manifest`]). [`plan`] says what a deploy would create, change (the fields, from a
//! server-side dry-run apply compared with the live object, like `kubectl diff`) and prune;
//! [`deploy`] checks the Secrets the model needs before anything else, then applies
//! server-side (field manager `datasurface`) step by step, waiting for what the next step
//! needs — PostgreSQL ready, its databases created, Airflow migrated and rolled out, the
//! infra Jobs done — and changes nothing that is already as the model wants it; with
//! `prune` it deletes this ecosystem's objects the model no longer has. [`undeploy`]
//! removes the ecosystem, keeping its data unless told. Every failure is an [`Error`] that
//! names the object and says what to do; no Secret value is ever read into a message.

mod api;
mod applyset;
mod connect;
mod diff;
mod error;
mod kind;
mod manifest;
mod plan;
mod progress;
mod prune;
mod rollout;
mod secrets;
mod undeploy;
mod wait;

pub use api::FIELD_MANAGER;
pub use connect::{Cluster, Target};
pub use diff::FieldChange;
pub use error::{Diagnostics, Error, MissingSecret};
pub use manifest::Manifest;
pub use plan::{Action, Plan, Planned, plan};
pub use progress::{Event, Outcome, Progress};
pub use prune::LiveObject;
pub use rollout::{Options, Report, deploy};
pub use undeploy::{Removal, inventory, undeploy};
