//! `deploy --plan`, `deploy` and `undeploy` as an operator runs them: the binary, a
//! kubeconfig, and a cluster — here the fake API server of the deploy crate's tests, served
//! over HTTP on 127.0.0.1 (no API server can run on the build machines).

#[path = "../../../deploy/tests/fake/mod.rs"]
mod fake;

use datasurface::*;
use datasurface_codegen::kube::Kind;
use datasurface_deploy::Manifest;
use fake::{Fake, url};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Output};

const NS: &str = "ns-kub-pg-test";
const SECRET_VALUE: &str = "aHVudGVyMi1kby1ub3QtcHJpbnQ=";

/// A kubeconfig whose current context, `kind-test`, is the fake at `server`.
fn kubeconfig(server: &str, name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("mvp-kubeconfig-{name}-{}", std::process::id()));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: kind-test\n\
             clusters:\n- name: kind-test\n  cluster:\n    server: {server}\n\
             users:\n- name: kind-test\n  user:\n    token: a-token\n\
             contexts:\n- name: kind-test\n  context:\n    cluster: kind-test\n    user: kind-test\n"
        ),
    )
    .expect("write kubeconfig");
    path
}

fn mvp(kubeconfig: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--timeout", "60s"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("run mvp")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The MVP's manifest, as the binary builds it.
fn manifest() -> Manifest {
    let eco = mvp::ecosystem().validate().expect("valid");
    Manifest::new(&eco, &datasurface::generate::context("mvp"))
}

#[test]
fn an_operator_plans_deploys_redeploys_and_undeploys_the_mvp() {
    let manifest = manifest();
    let n = manifest.objects.len();
    let fake = Fake::new();
    fake.put_secrets(&manifest, SECRET_VALUE);
    let config = kubeconfig(&fake.serve(), "cycle");

    let plan = mvp(&config, &["deploy", "--plan"]);
    let (out, err) = text(&plan);
    assert!(plan.status.success(), "{out}{err}");
    assert!(
        out.starts_with("plan for ecosystem test on context kind-test (http://127.0.0.1:"),
        "{out}"
    );
    assert!(
        out.contains("  + create namespace ns-kub-pg-test\n"),
        "{out}"
    );
    assert!(
        out.contains("  + create deployment ns-kub-pg-test/store1-simulator\n"),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("{n} to create, 0 to change, 0 to prune\n")),
        "{out}"
    );
    assert_eq!(fake.writes().len(), 0, "a plan changes nothing");

    let deploy = mvp(&config, &["deploy"]);
    let (out, err) = text(&deploy);
    assert!(deploy.status.success(), "{out}{err}");
    let tag = datasurface::generate::image_tag(&mvp::ecosystem().validate().expect("valid"));
    assert!(
        out.contains(&format!("image datasurface/mvp:{tag} (it must be pushed")),
        "{out}"
    );
    assert!(
        out.contains("secrets: 2 Secrets present with their keys\n"),
        "{out}"
    );
    assert!(
        out.contains("namespace: created namespace ns-kub-pg-test\n"),
        "{out}"
    );
    assert!(
        out.contains("postgres: statefulset ns-kub-pg-test/postgres ready ("),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "infra: job {NS}/{}-infra-{tag} complete (",
            naming::k8s_name("YellowLive")
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "deployed: {n} created, 0 changed, 0 replaced, 0 unchanged, 0 pruned\n"
        )),
        "{out}"
    );
    assert_eq!(
        fake.writes().len(),
        n + 1,
        "every object, and the ApplySet's parent"
    );

    fake.clear_requests();
    let again = mvp(&config, &["deploy"]);
    let (out, err) = text(&again);
    assert!(again.status.success(), "{out}{err}");
    assert!(out.contains("access: 4 unchanged\n"), "{out}");
    assert!(
        out.ends_with("nothing to change: the cluster is as the model wants it\n"),
        "{out}"
    );
    assert_eq!(fake.writes().len(), 0);
    let plan = mvp(&config, &["deploy", "--plan"]);
    let (out, _) = text(&plan);
    assert!(
        out.ends_with(&format!(
            "  {n} unchanged\n0 to create, 0 to change, 0 to prune\n"
        )),
        "{out}"
    );

    fake.put(
        &Kind::of::<PersistentVolumeClaim>(),
        json!({"metadata": {"name": "data-postgres-0", "namespace": NS,
               "labels": {"app.kubernetes.io/managed-by": "datasurface", "datasurface.io/ecosystem": "test"}}}),
    );
    let refused = mvp(&config, &["undeploy"]);
    let (out, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("  - delete deployment ns-kub-pg-test/store1-simulator\n"),
        "{out}"
    );
    assert!(
        out.contains("  = keep persistentvolumeclaim ns-kub-pg-test/data-postgres-0 (data; --delete-data deletes it)\n"),
        "{out}"
    );
    assert!(
        err.contains("pass --yes to confirm when not on a terminal"),
        "{err}"
    );
    assert_eq!(
        fake.writes().len(),
        0,
        "nothing deleted without confirmation"
    );

    let undeploy = mvp(&config, &["undeploy", "--yes"]);
    let (out, err) = text(&undeploy);
    assert!(undeploy.status.success(), "{out}{err}");
    assert!(
        // All but the namespace and the logs claim, and the ApplySet's parent.
        out.ends_with(&format!(
            "undeployed: {} objects deleted, 3 kept\n",
            n - 2 + 1
        )),
        "{out}"
    );
    assert!(
        fake.get(&Kind::of::<Deployment>(), Some(NS), "airflow")
            .is_none()
    );
    assert!(fake.urls().contains(&url(
        &Kind::of::<PersistentVolumeClaim>(),
        Some(NS),
        "data-postgres-0"
    )));
    let _ = std::fs::remove_file(&config);
}

#[test]
fn a_deploy_without_the_secrets_says_which_and_applies_nothing() {
    let fake = Fake::new();
    let config = kubeconfig(&fake.serve(), "secrets");
    let deploy = mvp(&config, &["deploy"]);
    let (out, err) = text(&deploy);
    let _ = std::fs::remove_file(&config);
    assert_eq!(deploy.status.code(), Some(1), "{out}{err}");
    assert!(
        err.starts_with("error: Secret ns-kub-pg-test/postgres is missing (keys `username`, `password`); Secret ns-kub-pg-test/airflow is missing"),
        "{err}"
    );
    assert!(err.contains("secrets.md"), "{err}");
    assert_eq!(fake.writes().len(), 0);
}
