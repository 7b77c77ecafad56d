//! `secrets.md`: which Kubernetes Secrets the operator creates, with which keys. The
//! generated objects only ever reference them; no value is ever generated.

use crate::artifact::Artifact;
use datasurface_model::{Credential, ValidEcosystem, naming};
use std::collections::{BTreeMap, HashSet};

pub(crate) fn guide<'e>(eco: &'e ValidEcosystem) -> Artifact {
    // Credential → the namespaces whose pods read it, and what for.
    let mut uses: BTreeMap<&'e str, (&'e Credential, Vec<String>)> = BTreeMap::new();
    let mut seen: HashSet<(&'e str, String)> = HashSet::new();
    for provider in &eco.providers {
        let mut add = |c: &'e Credential, what: String| {
            if seen.insert((c.name.as_str(), what.clone())) {
                uses.entry(c.name.as_str())
                    .or_insert((c, Vec::new()))
                    .1
                    .push(what);
            }
        };
        add(
            &provider.merge_credential,
            format!(
                "namespace `{}`: the merge database {}",
                provider.namespace, provider.merge_database.name
            ),
        );
        for platform in eco.platforms_of(provider) {
            for stream in eco.streams(platform) {
                let s = stream.store.capture;
                add(
                    &s.credential,
                    format!(
                        "namespace `{}`: the source database {} of {}",
                        provider.namespace, s.database.name, stream.store.name
                    ),
                );
            }
        }
    }
    let mut text = String::from(
        "# Secrets to create\n\n\
         The generated objects only *reference* these Secrets; create them in each namespace before \
         deploying. Replace the `<…>` placeholders; never commit real values.\n",
    );
    for (name, (credential, used)) in &uses {
        let secret = naming::k8s_name(name);
        let vars = credential.env_vars();
        text.push_str(&format!("\n## `{secret}`\n\nUsed by:\n"));
        for u in used {
            text.push_str(&format!("- {u}\n"));
        }
        text.push_str("\n| key | becomes |\n|---|---|\n");
        for (var, key) in &vars {
            text.push_str(&format!("| `{key}` | `{var}` |\n"));
        }
        let mut namespaces: Vec<&str> = used
            .iter()
            .filter_map(|u| u.strip_prefix("namespace `")?.split('`').next())
            .collect();
        namespaces.dedup();
        let keys: Vec<&str> = vars.iter().map(|(_, k)| *k).collect();
        for ns in namespaces {
            text.push_str(&kubectl(&secret, ns, &keys));
        }
    }
    for ns in eco.providers.iter().map(|p| p.namespace.as_str()) {
        let secret = crate::kube::AIRFLOW_SECRET;
        text.push_str(&format!(
            "\n## `{secret}` (namespace `{ns}`)\n\nUsed by: the Airflow scheduler and webserver.\n\n| key | becomes |\n|---|---|\n"
        ));
        for (key, var) in crate::kube::AIRFLOW_SECRET_KEYS {
            text.push_str(&format!("| `{key}` | `{var}` |\n"));
        }
        let keys: Vec<&str> = crate::kube::AIRFLOW_SECRET_KEYS
            .iter()
            .map(|(k, _)| *k)
            .collect();
        text.push_str(&kubectl(secret, ns, &keys));
    }
    Artifact {
        path: "secrets.md".into(),
        contents: text,
    }
}

/// The command that creates `secret` in `ns` with a placeholder for each key.
fn kubectl(secret: &str, ns: &str, keys: &[&str]) -> String {
    let literals: Vec<String> = keys
        .iter()
        .map(|k| format!("--from-literal={k}='<{k}>'"))
        .collect();
    format!(
        "\n```sh\nkubectl create secret generic {secret} --namespace {ns} \\\n  {}\n```\n",
        literals.join(" \\\n  ")
    )
}
