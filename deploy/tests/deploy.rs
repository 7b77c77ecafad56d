//! Deploy, plan, prune and undeploy against a fake API server (`fake/`): what goes over the
//! wire — the order, server-side apply with the `datasurface` field manager, no write when
//! nothing changed, exactly this ecosystem's dropped objects pruned and never a claim, the
//! Secrets checked before anything, Jobs replaced rather than patched — and the messages of
//! what stops a deploy.

mod fake;

use datasurface_codegen::Context;
use datasurface_codegen::kube::{Kind, Object};
use datasurface_deploy::{
    Action, Error, Event, Manifest, Options, Outcome, deploy, inventory, plan, undeploy,
};
use datasurface_model::*;
use fake::{Fake, url};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Event as KubeEvent, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use serde_json::{Value, json};
use std::time::Duration;

const NS: &str = "shop-data";
/// A Secret value that must never appear in a message (base64 of `hunter2-do-not-print`).
const SECRET_VALUE: &str = "aHVudGVyMi1kby1ub3QtcHJpbnQ=";

/// A small ecosystem like the MVP: its source and merge databases on an in-cluster
/// PostgreSQL, one live platform whose pods ask for `cpu`.
fn shop(cpu: &str) -> ValidEcosystem {
    let postgres = Credential::user_password("postgres");
    let source = PostgresDatabase::new("ShopDB", "shop").at("postgres", 5432);
    let orders = DatasetSchema::new("orders")
        .column(Column::new("id", DataType::Integer))
        .key(["id"])
        .classified(Classification::Internal);
    let store = Datastore::new("Shop")
        .capture(SqlSnapshot::new(source, postgres.clone(), "*/5 * * * *"))
        .dataset_schema(orders);
    let reports = Workspace::new("Reports")
        .dsg(DatasetGroup::new("Live", Retention::LiveOnly).sink_named("Shop", "orders"));
    let merge = PostgresDatabase::new("MergeDB", "merge").at("postgres", 5432);
    let provider = YellowServiceProvider::new("Dev", NS, merge, postgres)
        .image_repository("registry.example.com/shop");
    Ecosystem::new("Shop")
        .zone(
            GovernanceZone::new("EU").team(Team::new("sales").datastore(store).workspace(reports)),
        )
        .platform(YellowPlatform::live("Live", &provider).resources(Resources::new(cpu, "128Mi")))
        .provider(provider)
        .assign(Assignment::new("Reports", "Live", "Live"))
        .validate()
        .expect("a valid model")
}

fn manifest(cpu: &str) -> Manifest {
    let context = Context {
        binary: "shop".into(),
        build: "test-build".into(),
        lock: None,
    };
    Manifest::new(&shop(cpu), &context)
}

fn options() -> Options {
    Options {
        timeout: Duration::from_secs(60),
        poll: Duration::from_millis(1),
        ..Options::default()
    }
}

/// A fake cluster holding every Secret `manifest` needs, with all their keys.
fn cluster_with_secrets(manifest: &Manifest) -> Fake {
    let fake = Fake::new();
    fake.put_secrets(manifest, SECRET_VALUE);
    fake
}

fn object_url(object: &Object) -> String {
    url(&object.kind, object.namespace.as_deref(), &object.name)
}

fn find<'m>(manifest: &'m Manifest, kind: &str, prefix: &str) -> &'m Object {
    manifest
        .objects
        .iter()
        .find(|o| o.kind.kind == kind && o.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {kind} {prefix}…"))
}

/// Labels of an object of this ecosystem (or `ecosystem`'s).
fn labels(ecosystem: &str) -> Value {
    json!({"app.kubernetes.io/managed-by": "datasurface", "datasurface.io/ecosystem": ecosystem})
}

async fn deployed(fake: &Fake, manifest: &Manifest) {
    deploy(&fake.cluster(), manifest, &options(), &mut ())
        .await
        .expect("deploy");
}

#[tokio::test]
async fn a_first_deploy_applies_every_object_in_order_server_side_and_waits_between_steps() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    let mut events = Vec::new();
    let report = deploy(&fake.cluster(), &manifest, &options(), &mut events)
        .await
        .expect("deploy");
    assert_eq!(report.created, manifest.objects.len());

    let writes = fake.writes();
    let written: Vec<&str> = writes.iter().map(|r| r.path.as_str()).collect();
    let mut wanted: Vec<String> = manifest.objects.iter().map(object_url).collect();
    // The ApplySet's parent, once its namespace exists and before any member.
    let parent = &manifest.applyset;
    wanted.insert(
        1,
        format!(
            "/api/v1/namespaces/{}/configmaps/{}",
            parent.namespace, parent.name
        ),
    );
    assert_eq!(written, wanted, "every object once, in the model's order");
    for write in &writes {
        assert_eq!(write.method, "PATCH", "{}", write.path);
        assert_eq!(
            write.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            write.path
        );
        assert_eq!(
            write.query.get("fieldManager").map(String::as_str),
            Some("datasurface")
        );
        assert_eq!(write.query.get("force"), None, "no force unless asked");
    }

    // PostgreSQL is waited for before its databases are created, and they before Airflow.
    let requests = fake.requests();
    let position = |method: &str, path: &str, after: usize| {
        requests
            .iter()
            .enumerate()
            .skip(after)
            .find(|(_, r)| {
                r.method == method && r.path == path && r.is_write() == (method != "GET")
            })
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {method} {path}"))
    };
    let statefulset = object_url(find(&manifest, "StatefulSet", "postgres"));
    let databases = object_url(find(&manifest, "Job", "postgres-databases"));
    let migrate = object_url(find(&manifest, "Job", "airflow-migrate"));
    let applied = position("PATCH", &statefulset, 0);
    let waited = position("GET", &statefulset, applied);
    assert!(waited < position("PATCH", &databases, 0));
    let job_done = position("GET", &databases, position("PATCH", &databases, 0));
    assert!(job_done < position("PATCH", &migrate, 0));

    assert!(events.contains(&Event::SecretsPresent(manifest.secrets.len())));
    assert!(events.iter().any(|e| matches!(e,
        Event::Done { object, what: "complete", .. } if object.starts_with("job shop-data/live-infra-"))));
}

#[tokio::test]
async fn a_second_deploy_sends_no_change_and_the_plan_says_so() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    deployed(&fake, &manifest).await;
    fake.clear_requests();

    let report = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect("second deploy");
    assert!(report.is_noop(), "{report:?}");
    assert_eq!(report.unchanged, manifest.objects.len());
    assert_eq!(fake.writes().len(), 0, "{:#?}", fake.writes());
    // What it did send: reads, and dry runs of what exists.
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.query.get("dryRun").map(String::as_str) == Some("All"))
    );

    let plan = plan(&fake.cluster(), &manifest).await.expect("plan");
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(
        (plan.to_create(), plan.to_change(), plan.to_prune()),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn the_plan_lists_what_to_create_change_with_its_fields_and_prune_and_changes_nothing() {
    let before = manifest("100m");
    let fake = cluster_with_secrets(&before);
    deployed(&fake, &before).await;
    fake.clear_requests();

    // More CPU for the platform's pods: a new model, so a new tag, new Jobs, new DAGs.
    let after = manifest("200m");
    let plan = plan(&fake.cluster(), &after).await.expect("plan");
    assert_eq!(fake.writes().len(), 0, "a plan changes nothing");

    let action = |object: &str| {
        plan.objects
            .iter()
            .find(|p| p.object == object)
            .map(|p| p.action.clone())
            .unwrap_or_else(|| panic!("{object} is not in the plan"))
    };
    let new_infra = find(&after, "Job", "live-infra-").describe();
    let old_infra = find(&before, "Job", "live-infra-").describe();
    assert_ne!(new_infra, old_infra, "a changed model names a new Job");
    assert_eq!(action(&new_infra), Action::Create);
    assert_eq!(action(&old_infra), Action::Prune);
    let Action::Change(fields) = action("deployment shop-data/shop-simulator") else {
        panic!("the simulator's image changes");
    };
    let image = fields
        .iter()
        .find(|f| f.path == "spec.template.spec.containers[simulate].image")
        .expect("the image field");
    assert!(
        image
            .before
            .as_deref()
            .unwrap()
            .contains("registry.example.com/shop:")
    );
    assert_ne!(image.before, image.after);
    let Action::Change(fields) = action("deployment shop-data/airflow") else {
        panic!("Airflow's DAGs come from the new image");
    };
    assert_eq!(
        fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["spec.template.spec.initContainers[dags].image"]
    );
    assert_eq!(action("statefulset shop-data/postgres"), Action::Unchanged);
    assert_eq!((plan.to_create(), plan.to_prune()), (3, 3), "{plan:#?}");
}

#[tokio::test]
async fn prune_deletes_exactly_this_ecosystems_dropped_objects_and_never_a_claim() {
    let before = manifest("100m");
    let fake = cluster_with_secrets(&before);
    deployed(&fake, &before).await;
    // The claim the StatefulSet made, another ecosystem's object, and one of nobody's.
    fake.put(
        &Kind::of::<PersistentVolumeClaim>(),
        json!({"metadata": {"name": "data-postgres-0", "namespace": NS, "labels": labels("shop")}}),
    );
    fake.put(
        &Kind::of::<Service>(),
        json!({"metadata": {"name": "their-web", "namespace": NS, "labels": labels("other")}}),
    );
    fake.put(
        &Kind::of::<Service>(),
        json!({"metadata": {"name": "hand-made", "namespace": NS}}),
    );
    fake.clear_requests();

    let after = manifest("200m");
    let report = deploy(
        &fake.cluster(),
        &after,
        &Options {
            prune: true,
            ..options()
        },
        &mut (),
    )
    .await
    .expect("deploy --prune");

    let mut deleted: Vec<String> = fake
        .writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .inspect(|r| {
            assert_eq!(
                r.body.as_ref().and_then(|b| b.get("propagationPolicy")),
                Some(&json!("Background"))
            )
        })
        .map(|r| r.path)
        .collect();
    deleted.sort();
    let mut dropped: Vec<String> = before
        .objects
        .iter()
        .filter(|o| {
            !after
                .objects
                .iter()
                .any(|a| a.name == o.name && a.kind == o.kind)
        })
        .map(object_url)
        .collect();
    dropped.sort();
    assert_eq!(dropped.len(), 3, "the three Jobs named by the old tag");
    assert_eq!(deleted, dropped);
    assert_eq!(report.pruned, 3);
    for kept in [
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "data-postgres-0",
        ),
        url(&Kind::of::<Service>(), Some(NS), "their-web"),
        url(&Kind::of::<Service>(), Some(NS), "hand-made"),
    ] {
        assert!(fake.urls().contains(&kept), "{kept} is kept");
    }
}

#[tokio::test]
async fn a_missing_secret_key_stops_the_deploy_before_anything_is_applied() {
    let manifest = manifest("100m");
    let fake = Fake::new();
    fake.put(
        &Kind::of::<Secret>(),
        json!({"metadata": {"name": "postgres", "namespace": NS}, "data": {"username": SECRET_VALUE}}),
    );
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("refused");
    let Error::MissingSecrets(missing) = &err else {
        panic!("{err}");
    };
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert_eq!(fake.writes().len(), 0, "nothing is applied");
    let message = err.to_string();
    assert!(
        message.contains("Secret shop-data/postgres has no key `password`"),
        "{message}"
    );
    assert!(
        message.contains("Secret shop-data/airflow is missing (keys `fernet-key`"),
        "{message}"
    );
    assert!(message.contains("secrets.md"), "{message}");
    assert!(
        !message.contains(SECRET_VALUE) && !message.contains("hunter2"),
        "{message}"
    );
}

#[tokio::test]
async fn forbidden_names_the_verb_and_the_resource() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    fake.forbid("PATCH", "rolebindings");
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("forbidden");
    let message = err.to_string();
    assert!(
        matches!(err, Error::Forbidden { verb: "patch", .. }),
        "{message}"
    );
    assert!(
        message.contains(
            "may not patch rolebindings.rbac.authorization.k8s.io in namespace shop-data"
        ),
        "{message}"
    );
    assert!(message.contains("ask a cluster administrator"), "{message}");
    assert!(
        !fake
            .writes()
            .iter()
            .any(|w| w.path.contains("/statefulsets/")),
        "the steps after access are not applied"
    );
}

#[tokio::test]
async fn a_rollout_that_does_not_finish_in_time_says_so_with_the_pods_events_and_log() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    fake.never_ready("postgres");
    fake.put(
        &Kind::of::<Pod>(),
        json!({"metadata": {"name": "postgres-0", "namespace": NS, "labels": {"app": "postgres"}},
               "spec": {"containers": [{"name": "postgres", "image": "postgres:16.4"}]}}),
    );
    fake.put(
        &Kind::of::<KubeEvent>(),
        json!({"metadata": {"name": "postgres-0.1", "namespace": NS},
               "involvedObject": {"kind": "Pod", "name": "postgres-0", "namespace": NS},
               "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container postgres"}),
    );
    fake.log(
        "postgres-0",
        "postgres",
        "starting\nFATAL:  data directory \"/var/lib/postgresql/data/pgdata\" has wrong ownership",
    );
    let err = deploy(
        &fake.cluster(),
        &manifest,
        &Options {
            timeout: Duration::ZERO,
            ..options()
        },
        &mut (),
    )
    .await
    .expect_err("times out");
    let message = err.to_string();
    assert!(matches!(err, Error::Timeout { .. }), "{message}");
    assert!(
        message.contains("statefulset shop-data/postgres was not ready within 0s (--timeout)"),
        "{message}"
    );
    assert!(message.contains("pod shop-data/postgres-0"), "{message}");
    assert!(
        message.contains("Warning postgres-0 BackOff: Back-off restarting failed container"),
        "{message}"
    );
    assert!(message.contains("has wrong ownership"), "{message}");
    assert!(
        !fake.writes().iter().any(|w| w.path.contains("/jobs/")),
        "the databases are not created before PostgreSQL is ready"
    );
}

#[tokio::test]
async fn a_failed_job_stops_the_deploy_with_its_log() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    let infra = find(&manifest, "Job", "live-infra-");
    fake.failing(&infra.name);
    let pod = format!("{}-x7k2p", infra.name);
    fake.put(
        &Kind::of::<Pod>(),
        json!({"metadata": {"name": pod, "namespace": NS, "labels": {"job-name": infra.name}},
               "spec": {"containers": [{"name": "infra", "image": "registry.example.com/shop:x"}]}}),
    );
    fake.log(
        &pod,
        "infra",
        "error: Live: cannot connect to MergeDB at postgres:5432: connection refused",
    );
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("the Job fails");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "job shop-data/{} failed (BackoffLimitExceeded",
            infra.name
        )),
        "{message}"
    );
    assert!(message.contains("last log lines of infra:"), "{message}");
    assert!(message.contains("cannot connect to MergeDB"), "{message}");
}

#[tokio::test]
async fn a_job_that_changed_or_failed_is_replaced_not_patched() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    deployed(&fake, &manifest).await;
    let infra = find(&manifest, "Job", "live-infra-");
    let infra_url = object_url(infra);
    // Someone edited the Job's template; and the databases Job failed.
    let mut edited = fake.get(&infra.kind, Some(NS), &infra.name).expect("live");
    edited["spec"]["template"]["spec"]["containers"][0]["args"] =
        json!(["infra", "--platform", "Other"]);
    fake.put(&infra.kind, edited);
    let databases = find(&manifest, "Job", "postgres-databases");
    let mut failed = fake
        .get(&databases.kind, Some(NS), &databases.name)
        .expect("live");
    failed["status"] = json!({"conditions": [{"type": "Failed", "status": "True"}]});
    fake.put(&databases.kind, failed);
    fake.clear_requests();

    let report = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect("deploy");
    assert_eq!(report.replaced, 2, "{report:?}");
    for url in [infra_url, object_url(databases)] {
        let writes: Vec<String> = fake
            .writes()
            .into_iter()
            .filter(|w| w.path == url)
            .map(|w| w.method)
            .collect();
        assert_eq!(writes, ["DELETE", "PATCH"], "{url}: deleted, then created");
    }
    let live = fake
        .get(&infra.kind, Some(NS), &infra.name)
        .expect("created again");
    assert_eq!(live["spec"]["template"], infra.json["spec"]["template"]);
}

#[tokio::test]
async fn a_field_owned_by_another_manager_stops_the_deploy_unless_forced() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    let airflow = object_url(find(&manifest, "Deployment", "airflow"));
    fake.owned_by(&airflow, ".spec.replicas", "kubectl-edit");
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("a conflict");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "deployment shop-data/airflow: field .spec.replicas: conflict with \"kubectl-edit\""
        ),
        "{message}"
    );
    assert!(message.contains("--force-conflicts"), "{message}");
    let deployment = Kind::of::<Deployment>();
    assert!(
        fake.get(&deployment, Some(NS), "airflow").is_none(),
        "not applied"
    );

    let forced = Options {
        force_conflicts: true,
        ..options()
    };
    deploy(&fake.cluster(), &manifest, &forced, &mut ())
        .await
        .expect("forced");
    let write = fake
        .writes()
        .into_iter()
        .rfind(|w| w.path == airflow)
        .expect("applied");
    assert_eq!(write.query.get("force").map(String::as_str), Some("true"));
}

#[tokio::test]
async fn an_object_of_another_ecosystem_is_not_taken_over() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    fake.put(
        &Kind::of::<ServiceAccount>(),
        json!({"metadata": {"name": "airflow", "namespace": NS, "labels": labels("billing")}}),
    );
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "serviceaccount shop-data/airflow belongs to ecosystem `billing`, not `shop`: two ecosystems cannot share a namespace's objects; give this one its own namespace in the model"
    );
}

#[tokio::test]
async fn a_field_that_cannot_change_says_what_to_do() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    deployed(&fake, &manifest).await;
    let kind = Kind::of::<StatefulSet>();
    let mut live = fake.get(&kind, Some(NS), "postgres").expect("live");
    live["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("1Gi");
    fake.put(&kind, live);
    let err = deploy(&fake.cluster(), &manifest, &options(), &mut ())
        .await
        .expect_err("immutable");
    let message = err.to_string();
    assert!(
        message
            .starts_with("statefulset shop-data/postgres: a field that cannot change would change"),
        "{message}"
    );
    assert!(
        message.contains("`kubectl delete statefulset -n shop-data postgres`"),
        "{message}"
    );
}

#[tokio::test]
async fn undeploy_removes_the_ecosystem_and_keeps_its_data_unless_told() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    deployed(&fake, &manifest).await;
    fake.put(
        &Kind::of::<PersistentVolumeClaim>(),
        json!({"metadata": {"name": "data-postgres-0", "namespace": NS, "labels": labels("shop")}}),
    );
    fake.put(
        &Kind::of::<Deployment>(),
        json!({"metadata": {"name": "billing", "namespace": NS, "labels": labels("billing")}}),
    );
    let cluster = fake.cluster();

    let removal = inventory(&cluster, &manifest, false)
        .await
        .expect("inventory");
    let kept: Vec<String> = removal.keep.iter().map(|o| o.describe()).collect();
    assert_eq!(
        kept,
        [
            "persistentvolumeclaim shop-data/airflow-logs",
            "persistentvolumeclaim shop-data/data-postgres-0",
            "namespace shop-data"
        ]
    );
    assert_eq!(
        removal.delete.len(),
        manifest.objects.len() - 2 + 1,
        "all but the namespace and the logs claim, and the ApplySet's parent"
    );
    assert_eq!(
        removal.delete.last().map(|o| o.describe()),
        Some(format!("configmap {NS}/{}", manifest.applyset.name)),
        "the parent goes last"
    );
    fake.clear_requests();
    let deleted = undeploy(&cluster, &removal, &mut ())
        .await
        .expect("undeploy");
    assert_eq!(deleted, removal.delete.len());
    assert!(fake.writes().iter().all(|w| w.method == "DELETE"));
    let urls = fake.urls();
    for kept in [
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "data-postgres-0",
        ),
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "airflow-logs",
        ),
        url(&Kind::of::<Namespace>(), None, NS),
        url(&Kind::of::<Deployment>(), Some(NS), "billing"),
        url(&Kind::of::<Secret>(), Some(NS), "postgres"),
    ] {
        assert!(urls.contains(&kept), "{kept} is kept");
    }
    // The workloads go before what they use; the namespace, with --delete-data, last.
    let order: Vec<&str> = removal.delete.iter().map(|o| o.kind.kind).collect();
    let first = |k: &str| order.iter().position(|o| *o == k).unwrap();
    assert!(first("Deployment") < first("ServiceAccount"));
    assert!(first("Job") < first("StatefulSet"));

    let everything = inventory(&cluster, &manifest, true)
        .await
        .expect("inventory");
    let gone: Vec<String> = everything.delete.iter().map(|o| o.describe()).collect();
    assert_eq!(
        gone,
        [
            "persistentvolumeclaim shop-data/airflow-logs",
            "persistentvolumeclaim shop-data/data-postgres-0",
            "namespace shop-data"
        ]
    );
    assert!(everything.keep.is_empty());
}

#[tokio::test]
async fn progress_reports_each_object_once() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    let mut events = Vec::new();
    deploy(&fake.cluster(), &manifest, &options(), &mut events)
        .await
        .expect("deploy");
    let applied: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Applied {
                object,
                outcome: Outcome::Created,
            } => Some(object),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), manifest.objects.len());
    // The cluster does not serve the Prometheus operator's resources: the alert rules are
    // left out, and the deploy says so.
    let left_out: Vec<(&String, &String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::LeftOut { object, why } => Some((object, why)),
            _ => None,
        })
        .collect();
    assert_eq!(left_out.len(), manifest.optional.len(), "{left_out:?}");
    for (object, why) in left_out {
        assert!(object.starts_with("prometheusrule "), "{object}");
        assert!(why.contains("monitoring.coreos.com/v1"), "{why}");
    }
    let steps: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            "secrets",
            "namespace",
            "access",
            "postgres",
            "databases",
            "airflow",
            "infra",
            "console",
            "simulator"
        ]
    );
}

/// An object of `manifest`'s ecosystem of a kind this version does not generate, as an
/// earlier version would have applied it: the ecosystem's labels and its ApplySet's.
fn earlier_object<K>(manifest: &Manifest, mut value: K) -> Object
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
        + serde::Serialize
        + 'static,
{
    let meta = k8s_openapi::Metadata::metadata_mut(&mut value);
    meta.namespace = Some(NS.into());
    meta.labels = Some(
        [
            ("app.kubernetes.io/managed-by", "datasurface"),
            ("datasurface.io/ecosystem", manifest.ecosystem.as_str()),
            (
                datasurface_codegen::kube::PART_OF_LABEL,
                manifest.applyset.id.as_str(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    );
    Object::new(datasurface_codegen::kube::Step::Airflow, "earlier", &value)
}

// No API server can run here: the fake plays it, discovery included, as for every test of
// this file.
#[tokio::test]
async fn prune_deletes_every_kind_an_earlier_version_applied_and_keeps_claims_and_other_ecosystems()
{
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::ConfigMap;
    let now = manifest("100m");
    let named = |name: &str| k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    };
    // An earlier version of the model had a ConfigMap and a CronJob, kinds DataSurface
    // does not generate now.
    let mut earlier = now.clone();
    earlier.objects.push(earlier_object(
        &now,
        ConfigMap {
            metadata: named("dags"),
            ..Default::default()
        },
    ));
    earlier.objects.push(earlier_object(
        &now,
        CronJob {
            metadata: named("nightly"),
            ..Default::default()
        },
    ));
    let fake = cluster_with_secrets(&now);
    deployed(&fake, &earlier).await;
    let parent_url = url(&Kind::of::<ConfigMap>(), Some(NS), &now.applyset.name);
    let parent = fake
        .get(&Kind::of::<ConfigMap>(), Some(NS), &now.applyset.name)
        .expect("the parent");
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .expect("its group-kinds")
        .to_owned();
    assert!(
        kinds.contains("ConfigMap,CronJob.batch,Deployment.apps"),
        "{kinds}"
    );
    assert_eq!(
        parent["metadata"]["labels"]["applyset.kubernetes.io/id"],
        now.applyset.id.as_str()
    );
    assert!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/tooling"]
            .as_str()
            .is_some_and(|t| t.starts_with("datasurface/"))
    );

    // Data and another ecosystem's objects, in the same namespace.
    fake.put(
        &Kind::of::<PersistentVolumeClaim>(),
        json!({"metadata": {"name": "data-postgres-0", "namespace": NS, "labels": labels("shop")}}),
    );
    fake.put(
        &Kind::of::<PersistentVolumeClaim>(),
        json!({"metadata": {"name": "dropped-claim", "namespace": NS, "labels": labels("shop")}}),
    );
    fake.put(
        &Kind::of::<ConfigMap>(),
        json!({"metadata": {"name": "billing-dags", "namespace": NS, "labels": labels("billing")}}),
    );
    fake.put(
        &Kind::of::<CronJob>(),
        json!({"metadata": {"name": "billing-nightly", "namespace": NS, "labels": labels("billing")}}),
    );

    // The plan of the current model says what goes.
    let plan = plan(&fake.cluster(), &now).await.expect("plan");
    let pruned: Vec<String> = plan
        .objects
        .iter()
        .filter(|p| p.action == Action::Prune)
        .map(|p| p.object.clone())
        .collect();
    assert_eq!(
        pruned,
        ["configmap shop-data/dags", "cronjob shop-data/nightly"]
    );

    let report = deploy(
        &fake.cluster(),
        &now,
        &Options {
            prune: true,
            ..options()
        },
        &mut (),
    )
    .await
    .expect("deploy --prune");
    assert_eq!(report.pruned, 2);
    let urls = fake.urls();
    for gone in [
        url(&Kind::of::<ConfigMap>(), Some(NS), "dags"),
        url(&Kind::of::<CronJob>(), Some(NS), "nightly"),
    ] {
        assert!(!urls.contains(&gone), "{gone} is pruned");
    }
    for kept in [
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "data-postgres-0",
        ),
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "dropped-claim",
        ),
        url(
            &Kind::of::<PersistentVolumeClaim>(),
            Some(NS),
            "airflow-logs",
        ),
        url(&Kind::of::<ConfigMap>(), Some(NS), "billing-dags"),
        url(&Kind::of::<CronJob>(), Some(NS), "billing-nightly"),
        parent_url,
    ] {
        assert!(urls.contains(&kept), "{kept} is kept");
    }
    // The parent now records the model's kinds only: no CronJob, and a ConfigMap only
    // because the model has one of its own (the console's dashboard).
    let kinds = recorded_kinds(&fake, &now);
    let model_has_config_maps = now.objects.iter().any(|o| o.kind.kind == "ConfigMap");
    assert!(!kinds.contains("CronJob"), "{kinds}");
    assert_eq!(
        kinds.split(',').any(|k| k == "ConfigMap"),
        model_has_config_maps,
        "{kinds}"
    );
}

#[tokio::test]
async fn alert_rules_are_applied_where_the_cluster_serves_the_prometheus_operators_resources() {
    let manifest = manifest("100m");
    let fake = cluster_with_secrets(&manifest);
    let rule = manifest.optional.first().expect("an alert rule").clone();
    fake.serve_kind(rule.kind);
    let planned = plan(&fake.cluster(), &manifest).await.expect("plan");
    assert!(
        planned
            .objects
            .iter()
            .any(|p| p.object == rule.describe() && matches!(p.action, Action::Create)),
        "{planned:#?}"
    );
    let mut events = Vec::new();
    deploy(&fake.cluster(), &manifest, &options(), &mut events)
        .await
        .expect("deploy");
    assert!(
        !events.iter().any(|e| matches!(e, Event::LeftOut { .. })),
        "{events:?}"
    );
    let applied = fake
        .get(&rule.kind, rule.namespace.as_deref(), &rule.name)
        .expect("the PrometheusRule is applied");
    assert_eq!(applied["spec"], rule.json["spec"]);
    // It is a member of the ecosystem's ApplySet: recorded, so prune and undeploy find it.
    let kinds = recorded_kinds(&fake, &manifest);
    assert!(
        kinds
            .split(',')
            .any(|k| k == "PrometheusRule.monitoring.coreos.com"),
        "{kinds}"
    );
    // A second deploy leaves it as it is, and prune keeps it.
    let report = deploy(
        &fake.cluster(),
        &manifest,
        &Options {
            prune: true,
            ..options()
        },
        &mut Vec::new(),
    )
    .await
    .expect("deploy again");
    assert_eq!(report.pruned, 0);
    assert!(
        fake.get(&rule.kind, rule.namespace.as_deref(), &rule.name)
            .is_some()
    );
}

/// The group-kinds the ecosystem's ApplySet parent records in `fake`.
fn recorded_kinds(fake: &Fake, manifest: &Manifest) -> String {
    use k8s_openapi::api::core::v1::ConfigMap;
    let parent = fake
        .get(&Kind::of::<ConfigMap>(), Some(NS), &manifest.applyset.name)
        .expect("the parent");
    parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .expect("its group-kinds")
        .to_owned()
}
