//! What a deploy wants the cluster to hold: the ecosystem's objects in apply order, the
//! Secrets they read, and the labels that mark the ecosystem's objects.

use crate::applyset;
use crate::connect::Cluster;
use crate::error::Error;
use datasurface_codegen::kube::{self, ApplySet, Kind, Object};
use datasurface_codegen::{Context, RequiredSecret, observe, required_secrets};
use datasurface_model::ValidEcosystem;

/// The desired state of one ecosystem.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The ecosystem's label value (`datasurface.io/ecosystem`).
    pub ecosystem: String,
    /// The label selector of every object of the ecosystem.
    pub selector: String,
    /// Its objects, in apply order.
    pub objects: Vec<Object>,
    /// Objects of kinds a cluster may not serve (the Prometheus operator's alert rules):
    /// applied after the others where it does, left out where it does not.
    pub optional: Vec<Object>,
    /// The Secrets its pods read, which the operator creates.
    pub secrets: Vec<RequiredSecret>,
    /// The ecosystem's ApplySet: its parent records every kind ever applied.
    pub applyset: ApplySet,
}

impl Manifest {
    /// The manifest of `eco`, built by the binary `context` describes.
    pub fn new(eco: &ValidEcosystem, context: &Context) -> Self {
        Manifest {
            ecosystem: kube::ecosystem_label(eco),
            selector: kube::ecosystem_selector(eco),
            objects: kube::objects(eco, context),
            optional: observe::alert_objects(eco),
            secrets: required_secrets(eco),
            applyset: ApplySet::of(eco),
        }
    }

    /// The namespaces of its objects, in apply order.
    pub fn namespaces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for ns in self.objects.iter().filter_map(|o| o.namespace.as_deref()) {
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
        out
    }

    /// The objects to apply to `cluster`, in apply order, and the optional ones it leaves
    /// out because it does not serve their kind.
    pub(crate) async fn for_cluster(
        &self,
        cluster: &Cluster,
    ) -> Result<(Vec<&Object>, Vec<&Object>), Error> {
        let mut objects: Vec<&Object> = self.objects.iter().collect();
        let mut left_out = Vec::new();
        for object in &self.optional {
            if applyset::serves(cluster, &object.kind).await? {
                objects.push(object);
            } else {
                left_out.push(object);
            }
        }
        // Stable: the order within a step stays as built.
        objects.sort_by_key(|o| o.step);
        Ok((objects, left_out))
    }

    /// Whether `kind`/`namespace`/`name` is one of its objects.
    pub(crate) fn has(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> bool {
        self.objects
            .iter()
            .chain(&self.optional)
            .any(|o| o.kind == *kind && o.namespace.as_deref() == namespace && o.name == name)
    }
}
