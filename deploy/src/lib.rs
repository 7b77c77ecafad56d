//! Deployment of DataSurface Yellow.
//!
//! This crate will own applying the generated Kubernetes objects to a cluster (kube-rs)
//! and the recipe that builds the ecosystem's image from its model repo.
