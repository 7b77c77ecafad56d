//! Reaching the cluster as `kubectl` would: the kubeconfig of `--kubeconfig`, else
//! `KUBECONFIG`, else `~/.kube/config`; its current context unless `--context` names
//! another; and, with no kubeconfig at all, the service account of the pod deploy runs in.
//! The cluster is asked for its version first, so an unreachable cluster or rejected
//! credentials are said before anything else.

use crate::error::Error;
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig, KubeconfigError};
use std::path::PathBuf;

/// Which cluster to deploy to, as `kubectl`'s flags say it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The context (default: the kubeconfig's current context).
    pub context: Option<String>,
}

/// A cluster that answered.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: Client,
    /// The context's name (`in-cluster` inside a pod).
    pub context: String,
    /// The API server's URL.
    pub server: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish()
    }
}

impl Cluster {
    /// Connects to the cluster of `target` and checks that it answers.
    pub async fn connect(target: &Target) -> Result<Cluster, Error> {
        let (config, context) = config(target).await?;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| Error::Kubeconfig {
            detail: e.to_string(),
        })?;
        let cluster = Cluster {
            client,
            context,
            server,
        };
        cluster.check().await?;
        Ok(cluster)
    }

    /// A cluster reached through `client`, named `context` in messages.
    pub fn from_client(client: Client, context: &str, server: &str) -> Cluster {
        Cluster {
            client,
            context: context.to_owned(),
            server: server.to_owned(),
        }
    }

    /// Asks the server for its version: it answers, and takes the credentials.
    pub async fn check(&self) -> Result<(), Error> {
        match self.client.apiserver_version().await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 401 => Err(Error::Unauthorized {
                context: self.context.clone(),
                detail: status.message.clone(),
            }),
            // Any answer from the server (403 included) means it is there.
            Err(kube::Error::Api(_)) => Ok(()),
            Err(e) => Err(Error::Unreachable {
                context: self.context.clone(),
                server: self.server.clone(),
                detail: chain(&e),
            }),
        }
    }
}

/// The client configuration of `target`, with the context's name.
async fn config(target: &Target) -> Result<(Config, String), Error> {
    let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let kubeconfig = match (&target.kubeconfig, from_env) {
        (Some(path), _) => read(Kubeconfig::read_from(path), "")?,
        (None, Some(_)) => read(Kubeconfig::read(), "KUBECONFIG names ")?,
        (None, None) => match Kubeconfig::read() {
            Ok(k) => k,
            Err(KubeconfigError::FindPath | KubeconfigError::ReadConfig(..)) => {
                return in_cluster(target);
            }
            Err(e) => {
                return Err(Error::Kubeconfig {
                    detail: e.to_string(),
                });
            }
        },
    };
    let context = match &target.context {
        Some(c) => c.clone(),
        None => kubeconfig
            .current_context
            .clone()
            .ok_or_else(|| Error::Kubeconfig {
                detail: "it has no current context: pass --context".into(),
            })?,
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Err(Error::UnknownContext {
            context,
            available: kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
        });
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| Error::Kubeconfig {
            detail: e.to_string(),
        })?;
    Ok((config, context))
}

/// A kubeconfig read from a file named by the operator (`how` says how it was named).
fn read(result: Result<Kubeconfig, KubeconfigError>, how: &str) -> Result<Kubeconfig, Error> {
    result.map_err(|e| match e {
        KubeconfigError::ReadConfig(io, path) if io.kind() == std::io::ErrorKind::NotFound => {
            Error::NoKubeconfig {
                detail: format!("{how}{}, which does not exist", path.display()),
            }
        }
        e => Error::Kubeconfig {
            detail: e.to_string(),
        },
    })
}

/// No kubeconfig: the pod's service account, if deploy runs in a cluster.
fn in_cluster(target: &Target) -> Result<(Config, String), Error> {
    if let Some(context) = &target.context {
        return Err(Error::NoKubeconfig {
            detail: format!(
                "--context {context} needs one; KUBECONFIG is unset and ~/.kube/config missing"
            ),
        });
    }
    Config::incluster()
        .map(|c| (c, "in-cluster".to_owned()))
        .map_err(|_| Error::NoKubeconfig {
            detail: "KUBECONFIG is unset and ~/.kube/config is missing".into(),
        })
}

/// An error with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
