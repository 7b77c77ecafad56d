//! What every pod that runs the ecosystem's binary shares, whoever launches it (Airflow's
//! KubernetesPodOperator or a Job): the service account it runs as, and the environment
//! variables of its credentials, filled from Secrets.

use datasurface_model::{Credential, naming};

/// The service account the job pods run as (no Kubernetes API rights).
pub const JOB_SERVICE_ACCOUNT: &str = "datasurface-job";

/// An environment variable filled from a key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretEnv {
    pub(crate) var: String,
    pub(crate) secret: String,
    pub(crate) key: &'static str,
}

/// The variables `credentials` are read from, each credential once, with the Secret (named
/// after the credential) and key that fill each: `postgres_USER` from `postgres/username`.
pub(crate) fn secret_env(credentials: &[&Credential]) -> Vec<SecretEnv> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for c in credentials {
        if seen.contains(&c.name.as_str()) {
            continue;
        }
        seen.push(&c.name);
        out.extend(c.env_vars().into_iter().map(|(var, key)| SecretEnv {
            var,
            secret: naming::secret_name(&c.name),
            key,
        }));
    }
    out
}
