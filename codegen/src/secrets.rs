//! The Secrets the operator creates — which, in which namespace, with which keys — as
//! [`required_secrets`] (what `deploy` checks before applying anything) and as `secrets.md`
//! (the guide, with `kubectl create secret` commands). The generated objects only ever
//! reference them; no value is ever generated.

use crate::artifact::Artifact;
use crate::kube::{
    AIRFLOW_ADMIN_KEYS, AIRFLOW_DATABASE, AIRFLOW_SECRET, AIRFLOW_SETTINGS_KEYS, simulated,
};
use datasurface_model::{Credential, ValidEcosystem, naming};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A Secret the ecosystem's pods read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredSecret {
    pub namespace: String,
    pub name: String,
    /// Its keys, each with the environment variable it becomes.
    pub keys: Vec<(&'static str, String)>,
    /// What reads it.
    pub used_by: Vec<String>,
}

/// Every Secret the ecosystem needs: per namespace, the Secret of each credential its pods
/// use, then Airflow's.
pub fn required_secrets(eco: &ValidEcosystem) -> Vec<RequiredSecret> {
    let mut out: Vec<RequiredSecret> = Vec::new();
    // (namespace, Secret) → its place in `out`, and the uses seen: a model of 10,000 stores
    // on one credential stays linear.
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut seen: HashSet<(usize, String)> = HashSet::new();
    for provider in &eco.model().providers {
        let ns = provider.namespace.as_str();
        let mut add = |c: &Credential, what: String| {
            let name = naming::secret_name(&c.name);
            let at = *index
                .entry((ns.to_owned(), name.clone()))
                .or_insert_with(|| {
                    out.push(RequiredSecret {
                        namespace: ns.to_owned(),
                        name,
                        keys: c
                            .env_vars()
                            .into_iter()
                            .map(|(var, key)| (key, var))
                            .collect(),
                        used_by: Vec::new(),
                    });
                    out.len() - 1
                });
            if seen.insert((at, what.clone())) {
                out[at].used_by.push(what);
            }
        };
        let merge = &provider.merge_database;
        add(
            &provider.merge_credential,
            format!(
                "the merge database {} (and Airflow's database `{AIRFLOW_DATABASE}` on its server)",
                merge.name
            ),
        );
        if let Some(console) = &provider.console_credential {
            add(
                console,
                format!(
                    "the console's reads of the batch tables in {} (grant it `console-login.sql`)",
                    merge.name
                ),
            );
        }
        for platform in eco.platforms_of(provider) {
            for stream in eco.streams(platform) {
                let s = stream.store.capture;
                let replication = match stream.store.replication {
                    // Reading a slot's changes takes more than reading tables.
                    Some(_) => {
                        ", read by logical replication: a login with the REPLICATION \
                               attribute that owns the captured tables (or may create their \
                               publication)"
                    }
                    None => "",
                };
                add(
                    &s.credential,
                    format!(
                        "the source database {} of {}{replication}",
                        s.database.name, stream.store.model.name
                    ),
                );
            }
        }
        for store in simulated(eco, provider) {
            add(
                &store.capture.credential,
                format!("the simulator of {}", store.model.name),
            );
        }
    }
    for provider in &eco.model().providers {
        out.push(RequiredSecret {
            namespace: provider.namespace.clone(),
            name: AIRFLOW_SECRET.to_owned(),
            keys: AIRFLOW_SETTINGS_KEYS
                .iter()
                .chain(&AIRFLOW_ADMIN_KEYS)
                .map(|(key, var)| (*key, (*var).to_owned()))
                .collect(),
            used_by: vec![
                "the Airflow scheduler and webserver, and the admin user the migration creates"
                    .into(),
            ],
        });
    }
    out
}

pub(crate) fn guide(eco: &ValidEcosystem) -> Artifact {
    let secrets = required_secrets(eco);
    let mut text = String::from(
        "# Secrets to create\n\n\
         The generated objects only *reference* these Secrets; create them in each namespace before \
         deploying (`deploy` checks them first and changes nothing while one is missing). Replace the \
         `<…>` placeholders; never commit real values.\n",
    );
    let namespaces = eco.model().providers.iter().map(|p| p.namespace.as_str());
    text.push_str("\nThe namespaces first, if they do not exist yet:\n\n```sh\n");
    for ns in namespaces {
        text.push_str(&format!("kubectl create namespace {ns}\n"));
    }
    text.push_str("```\n");
    // The Secrets of credentials, one section per name over the namespaces that need it.
    let mut by_name: BTreeMap<&str, Vec<&RequiredSecret>> = BTreeMap::new();
    for s in secrets.iter().filter(|s| s.name != AIRFLOW_SECRET) {
        by_name.entry(&s.name).or_default().push(s);
    }
    for (name, uses) in &by_name {
        text.push_str(&format!("\n## `{name}`\n\nUsed by:\n"));
        for s in uses {
            for what in &s.used_by {
                text.push_str(&format!("- namespace `{}`: {what}\n", s.namespace));
            }
        }
        text.push_str(&table(uses[0]));
        for s in uses {
            text.push_str(&kubectl(s));
        }
    }
    for s in secrets.iter().filter(|s| s.name == AIRFLOW_SECRET) {
        text.push_str(&format!(
            "\n## `{}` (namespace `{}`)\n\nUsed by: {}.\n",
            s.name,
            s.namespace,
            s.used_by.join(", ")
        ));
        text.push_str(&table(s));
        text.push_str(&kubectl(s));
        text.push_str(
            "\nA Fernet key: `python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'`; \
             a webserver secret key: `openssl rand -hex 32`. The admin user is created once, \
             with this password; change it later in the Airflow UI.\n",
        );
    }
    Artifact {
        path: "secrets.md".into(),
        contents: text,
    }
}

fn table(secret: &RequiredSecret) -> String {
    let mut text = String::from("\n| key | becomes |\n|---|---|\n");
    for (key, var) in &secret.keys {
        text.push_str(&format!("| `{key}` | `{var}` |\n"));
    }
    text
}

/// The command that creates `secret` with a placeholder for each key.
fn kubectl(secret: &RequiredSecret) -> String {
    let literals: Vec<String> = secret
        .keys
        .iter()
        .map(|(k, _)| format!("--from-literal={k}='<{k}>'"))
        .collect();
    format!(
        "\n```sh\nkubectl create secret generic {} --namespace {} \\\n  {}\n```\n",
        secret.name,
        secret.namespace,
        literals.join(" \\\n  ")
    )
}
