//! Reaching a cluster: what an operator is told when there is no kubeconfig, when a context
//! does not exist, and when the cluster does not answer. (No server is needed: these are
//! the failures before one.)

use datasurface_deploy::{Cluster, Error, Target};
use std::path::PathBuf;

/// A kubeconfig with one context, `dev`, whose cluster is at `server`.
fn kubeconfig(name: &str, server: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "datasurface-kubeconfig-{name}-{}",
        std::process::id()
    ));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\n\
             clusters:\n- name: dev\n  cluster:\n    server: {server}\n\
             users:\n- name: dev\n  user:\n    token: not-a-real-token\n\
             contexts:\n- name: dev\n  context:\n    cluster: dev\n    user: dev\n"
        ),
    )
    .expect("write kubeconfig");
    path
}

#[tokio::test]
async fn a_missing_kubeconfig_says_which_and_what_to_do() {
    let target = Target {
        kubeconfig: Some("/nonexistent/kubeconfig".into()),
        context: None,
    };
    let err = Cluster::connect(&target).await.expect_err("no kubeconfig");
    assert!(matches!(err, Error::NoKubeconfig { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/kubeconfig, which does not exist"),
        "{message}"
    );
    assert!(
        message.contains("--kubeconfig (or KUBECONFIG)"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_context_lists_the_known_ones() {
    let path = kubeconfig("context", "https://127.0.0.1:1");
    let target = Target {
        kubeconfig: Some(path.clone()),
        context: Some("prod".into()),
    };
    let err = Cluster::connect(&target)
        .await
        .expect_err("no such context");
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        err.to_string(),
        "the kubeconfig has no context `prod`; it has: dev"
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_named_with_its_context() {
    // Port 1 on the loopback: nothing listens, the connection is refused at once.
    let path = kubeconfig("unreachable", "https://127.0.0.1:1");
    let target = Target {
        kubeconfig: Some(path.clone()),
        context: None,
    };
    let err = Cluster::connect(&target).await.expect_err("unreachable");
    let _ = std::fs::remove_file(&path);
    let message = err.to_string();
    assert!(matches!(err, Error::Unreachable { .. }), "{message}");
    assert!(
        message.starts_with("cannot reach the cluster of context `dev` at https://127.0.0.1:1/"),
        "{message}"
    );
    assert!(
        message.contains("kubectl --context dev get namespaces"),
        "{message}"
    );
    assert!(!message.contains("not-a-real-token"), "{message}");
}
