//! Seeing the platform: the metrics the console exports and what is generated around
//! them — the Prometheus alert rules, their `promtool` tests and the Grafana dashboard
//! (whose ConfigMap deploys with the console, in [`kube`](crate::kube)).
//!
//! The rules are written three ways per provider, under `observability/{namespace}/`:
//! `prometheus-rule.yaml` (the operator's `PrometheusRule`), `rules.yaml` (the same groups
//! for a Prometheus without the operator, and for `promtool check rules`) and
//! `rules.test.yaml` (`promtool test rules`); beside them `console-login.sql`, the role
//! whose login may read only the batch tables.

pub mod dashboard;
pub mod login;
pub mod names;
pub mod rules;

use crate::artifact::Artifact;
use crate::kube::{Labels, Object, Step};
use datasurface_model::ValidEcosystem;

/// Each provider's `PrometheusRule` as an object `deploy` applies where the cluster serves
/// the Prometheus operator's resources (and leaves out, saying so, where it does not).
pub fn alert_objects(eco: &ValidEcosystem) -> Vec<Object> {
    let labels = Labels::new(eco);
    eco.model()
        .providers
        .iter()
        .map(|provider| {
            let ns = provider.namespace.as_str();
            let rule = rules::prometheus_rule(eco, provider, labels.meta(RULE_NAME, Some(ns)));
            Object::new(Step::Console, "prometheus-rule", &rule)
        })
        .collect()
}

/// The name of each provider's `PrometheusRule`.
pub const RULE_NAME: &str = "datasurface-alerts";

/// The rule files of every provider.
pub(crate) fn artifacts(eco: &ValidEcosystem, sink: &mut dyn FnMut(Artifact)) {
    let labels = Labels::new(eco);
    for provider in &eco.model().providers {
        let ns = provider.namespace.as_str();
        let dir = format!("observability/{ns}");
        let rule = rules::prometheus_rule(eco, provider, labels.meta(RULE_NAME, Some(ns)));
        sink(Artifact {
            path: format!("{dir}/prometheus-rule.yaml"),
            contents: yaml(&rule),
        });
        sink(Artifact {
            path: format!("{dir}/rules.yaml"),
            contents: yaml(&rule.spec),
        });
        sink(Artifact {
            path: format!("{dir}/console-login.sql"),
            contents: login::sql(eco, provider),
        });
        sink(Artifact {
            path: format!("{dir}/rules.test.yaml"),
            contents: yaml(&rules::rule_tests(eco, provider, "rules.yaml")),
        });
    }
}

fn yaml(value: &impl serde::Serialize) -> String {
    serde_saphyr::to_string(value).expect("rule files serialise")
}
