//! The generated Kubernetes set holds together: every Secret key, service account,
//! ConfigMap, claim and database host an object or a DAG refers to is generated or in the
//! secrets guide; Airflow's role grants what the KubernetesPodOperator calls and nothing
//! more; every container has requests and limits; every image is the tag `generate`
//! prints (or a pinned Airflow or PostgreSQL); `kubectl kustomize` builds exactly the
//! generated objects, in order; the databases Job creates each database once; and the tag
//! follows the model and the build.

use datasurface::codegen::kube::{self, AIRFLOW_IMAGE, Object, POSTGRES_IMAGE};
use datasurface::codegen::{Artifact, Context, JOB_SERVICE_ACCOUNT, generate, required_secrets};
use datasurface::serde_json::Value;
use datasurface::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn context() -> Context {
    datasurface::generate::context("mvp")
}

/// The models whose sets are checked: the MVP (everything in the cluster, the simulator
/// on) and one with a source outside the cluster.
fn models() -> Vec<ValidEcosystem> {
    let mvp = mvp::ecosystem().validate().expect("valid");
    let outside = PostgresDatabase::new("HrDB", "hr").at("hr-db.corp.example", 5432);
    let people = DatasetSchema::new("people")
        .column(Column::new("id", DataType::Integer))
        .key(["id"])
        .classified(Classification::Personal);
    let hr = Datastore::new("HR")
        .capture(SqlSnapshot::new(
            outside,
            Credential::user_password("hr_reader"),
            "0 * * * *",
        ))
        .dataset_schema(people);
    let ws = Workspace::new("Analytics")
        .dsg(DatasetGroup::new("People", Retention::Forensic).sink_named("HR", "people"));
    let merge = PostgresDatabase::new("MergeDB", "merge").at("warehouse", 5433);
    let provider = YellowServiceProvider::new(
        "Prod",
        "hr-data",
        merge,
        Credential::user_password("warehouse"),
    )
    .image_repository("registry.example.com/hr");
    let hr_model = Ecosystem::new("Corp")
        .zone(GovernanceZone::new("EU").team(Team::new("hr").datastore(hr).workspace(ws)))
        .platform(YellowPlatform::forensic("History", &provider))
        .provider(provider)
        .assign(Assignment::new("Analytics", "People", "History"))
        .validate()
        .expect("valid");
    vec![mvp, hr_model]
}

/// Every value under `key` anywhere in `value`.
fn all<'v>(value: &'v Value, key: &str, out: &mut Vec<&'v Value>) {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get(key) {
                out.push(v);
            }
            map.values().for_each(|v| all(v, key, out));
        }
        Value::Array(items) => items.iter().for_each(|v| all(v, key, out)),
        _ => {}
    }
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    all(value, key, &mut found);
    found
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The containers (init containers too) of every pod template of `object`.
fn containers(object: &Object) -> Vec<&Value> {
    let mut out = Vec::new();
    for key in ["containers", "initContainers"] {
        let mut lists = Vec::new();
        all(&object.json, key, &mut lists);
        for list in lists {
            out.extend(list.as_array().into_iter().flatten());
        }
    }
    out
}

/// The string arguments of each call `name(…)` in a DAG file: `("postgres", "username")`
/// for `V1SecretKeySelector(name="postgres", key="username")`.
fn python_calls(text: &str, name: &str) -> Vec<Vec<String>> {
    text.match_indices(&format!("{name}("))
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let args = &rest[..rest.find(')').unwrap_or(rest.len())];
            args.split(',')
                .filter_map(|a| {
                    a.split_once('=')
                        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
                })
                .collect()
        })
        .collect()
}

/// A keyword argument `key="value"` of a DAG file.
fn python_kwargs(text: &str, key: &str) -> Vec<String> {
    text.match_indices(&format!("{key}=\""))
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_owned()
        })
        .collect()
}

fn dags(artifacts: &[Artifact]) -> Vec<&Artifact> {
    artifacts
        .iter()
        .filter(|a| a.path.contains("/dags/") && a.path.ends_with(".py"))
        .collect()
}

fn generated(objects: &[Object], kind: &str, ns: &str) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|o| o.kind.kind == kind && o.namespace.as_deref() == Some(ns))
        .map(|o| o.name.clone())
        .collect()
}

#[test]
fn every_reference_is_generated_or_in_the_secrets_guide() {
    for eco in models() {
        let objects = kube::objects(&eco, &context());
        let artifacts = generate(&eco, &context());
        let guide = &artifacts
            .iter()
            .find(|a| a.path == "secrets.md")
            .expect("the guide")
            .contents;
        let required = required_secrets(&eco);
        let mut referenced: BTreeSet<(String, String, String)> = BTreeSet::new();
        for object in &objects {
            let ns = object.namespace.clone().unwrap_or_default();
            let mut refs = Vec::new();
            all(&object.json, "secretKeyRef", &mut refs);
            for r in refs {
                referenced.insert((
                    ns.clone(),
                    r["name"].as_str().unwrap().into(),
                    r["key"].as_str().unwrap().into(),
                ));
            }
            for sa in strings(&object.json, "serviceAccountName") {
                assert!(
                    generated(&objects, "ServiceAccount", &ns).contains(&sa),
                    "{}: {sa}",
                    object.path
                );
            }
            let mut volumes = Vec::new();
            all(&object.json, "configMap", &mut volumes);
            for v in volumes {
                let name = v["name"].as_str().unwrap().to_owned();
                assert!(
                    generated(&objects, "ConfigMap", &ns).contains(&name),
                    "{}: {name}",
                    object.path
                );
            }
            for claim in strings(&object.json, "claimName") {
                assert!(
                    generated(&objects, "PersistentVolumeClaim", &ns).contains(&claim),
                    "{}: {claim}",
                    object.path
                );
            }
        }
        for dag in dags(&artifacts) {
            let ns = python_kwargs(&dag.contents, "namespace")[0].clone();
            for args in python_calls(&dag.contents, "V1SecretKeySelector") {
                referenced.insert((ns.clone(), args[0].clone(), args[1].clone()));
            }
            for sa in python_kwargs(&dag.contents, "service_account_name") {
                assert!(
                    generated(&objects, "ServiceAccount", &ns).contains(&sa),
                    "{}: {sa}",
                    dag.path
                );
            }
        }
        let needed: BTreeSet<(String, String, String)> = required
            .iter()
            .flat_map(|s| {
                s.keys
                    .iter()
                    .map(|(k, _)| (s.namespace.clone(), s.name.clone(), (*k).to_owned()))
            })
            .collect();
        assert_eq!(
            referenced,
            needed,
            "{}: what is read is what the guide asks for",
            eco.model().name
        );
        for (ns, name, key) in &needed {
            assert!(
                guide.contains(&format!(
                    "kubectl create secret generic {name} --namespace {ns}"
                )),
                "{name}"
            );
            assert!(
                guide.contains(&format!("--from-literal={key}='<{key}>'")),
                "{name}/{key}"
            );
        }

        // Every database host a pod connects to in the cluster is a generated Service.
        for provider in &eco.model().providers {
            let ns = provider.namespace.as_str();
            let services = generated(&objects, "Service", ns);
            let mut hosts: Vec<(String, u16)> = eco
                .databases()
                .iter()
                .map(|(db, _)| (db.host.clone(), db.port))
                .filter(|(host, _)| !host.contains('.'))
                .collect();
            for object in objects
                .iter()
                .filter(|o| o.namespace.as_deref() == Some(ns))
            {
                let mut env = Vec::new();
                all(&object.json, "env", &mut env);
                for var in env.iter().flat_map(|e| e.as_array().into_iter().flatten()) {
                    let value = var["value"].as_str().unwrap_or_default();
                    if var["name"] == "PGHOST" {
                        hosts.push((value.to_owned(), 5432));
                    }
                    if let Some(at) = value.split_once("'@").map(|(_, rest)| rest) {
                        let host = at.split(':').next().unwrap_or_default();
                        hosts.push((host.to_owned(), 0));
                    }
                }
            }
            for (host, port) in hosts {
                assert!(
                    services.contains(&host),
                    "{ns}: no Service for the host {host}"
                );
                let service = objects
                    .iter()
                    .find(|o| o.kind.kind == "Service" && o.name == host)
                    .unwrap();
                if port != 0 && host == provider.merge_database.host {
                    assert_eq!(
                        service.json["spec"]["ports"][0]["port"],
                        u64::from(provider.merge_database.port)
                    );
                }
            }
        }
    }
}

#[test]
fn the_airflow_role_grants_what_the_pod_operator_calls_and_nothing_more() {
    // What the KubernetesPodOperator calls, read from the cncf-kubernetes provider of each
    // Airflow the DAGs are checked with: Kubernetes client method → (resource, verb).
    let calls = [
        ("create_namespaced_pod", ("pods", "create")),
        ("read_namespaced_pod", ("pods", "get")),
        ("list_namespaced_pod", ("pods", "list")),
        ("patch_namespaced_pod", ("pods", "patch")),
        ("delete_namespaced_pod", ("pods", "delete")),
        ("read_namespaced_pod_log", ("pods/log", "get")),
        ("list_namespaced_event", ("events", "list")),
        ("connect_get_namespaced_pod_exec", ("pods/exec", "create")),
    ];
    let mut needed: BTreeSet<(&str, &str)> = BTreeSet::new();
    for venv in ["airflow2", "airflow3"] {
        let provider = provider_dir(venv);
        for file in [
            "operators/pod.py",
            "utils/pod_manager.py",
            "hooks/kubernetes.py",
        ] {
            let code = std::fs::read_to_string(provider.join(file)).expect("provider source");
            for (method, grant) in calls {
                if code.contains(&format!("{method}(")) || code.contains(&format!(".{method},")) {
                    needed.insert(grant);
                }
            }
            // Events are watched (a `Watch().stream` over list_namespaced_event).
            if code.contains("w.stream(") && code.contains("v1_api.list_namespaced_event") {
                needed.insert(("events", "watch"));
            }
        }
    }
    // The exec is the XCom sidecar's, and the DAGs push no XCom.
    assert!(needed.remove(&("pods/exec", "create")));
    for eco in models() {
        for dag in dags(&generate(&eco, &context())) {
            assert!(dag.contents.contains("do_xcom_push=False"), "{}", dag.path);
        }
        let objects = kube::objects(&eco, &context());
        let roles: Vec<&Object> = objects
            .iter()
            .filter(|o| o.kind.kind.ends_with("Role"))
            .collect();
        assert_eq!(
            roles.len(),
            eco.model().providers.len(),
            "one Role per namespace, no ClusterRole"
        );
        for role in roles {
            let mut granted: BTreeSet<(&str, &str)> = BTreeSet::new();
            for rule in role.json["rules"].as_array().unwrap() {
                assert_eq!(
                    rule["apiGroups"],
                    datasurface::serde_json::json!([""]),
                    "core API only"
                );
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        granted.insert((resource.as_str().unwrap(), verb.as_str().unwrap()));
                    }
                }
            }
            assert_eq!(granted, needed, "{}", role.path);
        }
        let binding = objects
            .iter()
            .find(|o| o.kind.kind == "RoleBinding")
            .unwrap();
        assert_eq!(binding.json["subjects"][0]["name"], "airflow");
        let job_account = objects
            .iter()
            .find(|o| o.kind.kind == "ServiceAccount" && o.name == JOB_SERVICE_ACCOUNT)
            .unwrap();
        assert_eq!(job_account.json["automountServiceAccountToken"], false);
    }
}

/// The cncf-kubernetes provider of the Airflow venv `venv` that `scripts/test.sh` installs.
fn provider_dir(venv: &str) -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/{venv}/lib"));
    let python = std::fs::read_dir(&lib)
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: scripts/test.sh installs Airflow there",
                lib.display()
            )
        })
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .expect("a python lib folder");
    python
        .path()
        .join("site-packages/airflow/providers/cncf/kubernetes")
}

#[test]
fn every_container_asks_for_cpu_and_memory_and_has_a_memory_limit() {
    for eco in models() {
        let objects = kube::objects(&eco, &context());
        let mut seen = 0;
        for object in &objects {
            for container in containers(object) {
                let resources = &container["resources"];
                for path in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
                    assert!(
                        resources.pointer(path).and_then(Value::as_str).is_some(),
                        "{}: container {} has no {path}",
                        object.path,
                        container["name"]
                    );
                }
                seen += 1;
            }
        }
        assert!(seen >= 6, "{seen} containers");
        for dag in dags(&generate(&eco, &context())) {
            assert!(
                dag.contents
                    .contains("container_resources=k8s.V1ResourceRequirements(requests={\"cpu\": "),
                "{}",
                dag.path
            );
        }
    }
    // The model's setting reaches the platform's pods.
    let mut model = mvp::ecosystem();
    model.platforms[0].resources = Resources::new("750m", "1Gi").cpu_limit("2");
    let eco = model.validate().expect("valid");
    let infra = kube::objects(&eco, &context())
        .into_iter()
        .find(|o| {
            o.name
                .starts_with(&format!("{}-infra-", naming::k8s_name("YellowLive")))
        })
        .unwrap();
    let resources = &containers(&infra)[0]["resources"];
    assert_eq!(resources["requests"]["cpu"], "750m");
    assert_eq!(resources["limits"]["cpu"], "2");
    assert_eq!(resources["limits"]["memory"], "1Gi");
}

/// Runs `mvp generate` into a fresh folder: the folder and what it printed.
fn generate_with_the_binary(name: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("mvp-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(["generate", "--out"])
        .arg(&dir)
        .output()
        .expect("generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_image_is_the_tag_generate_prints_or_a_pinned_one() {
    let (dir, printed) = generate_with_the_binary("images");
    let images: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("image "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let eco = mvp::ecosystem().validate().expect("valid");
    let tag = datasurface::generate::image_tag(&eco);
    assert_eq!(
        images,
        [
            format!("datasurface/mvp:{tag}"),
            format!("datasurface/mvp:{tag}-dev")
        ]
    );
    assert!(printed.contains(&format!(
        "image datasurface/mvp:{tag}-dev (docker build --build-arg FEATURES=dev -t datasurface/mvp:{tag}-dev .)"
    )));

    let mut used = BTreeSet::new();
    for object in kube::objects(&eco, &context()) {
        for container in containers(&object) {
            let image = container["image"].as_str().unwrap().to_owned();
            if images.contains(&image.as_str()) {
                assert_eq!(
                    container["imagePullPolicy"], "IfNotPresent",
                    "{}",
                    object.path
                );
            } else {
                assert!(
                    [AIRFLOW_IMAGE, POSTGRES_IMAGE].contains(&image.as_str()),
                    "{}: {image}",
                    object.path
                );
            }
            used.insert(image);
        }
    }
    for dag in std::fs::read_dir(dir.join("platforms/yellowlive/dags"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(dag.path()).unwrap();
        for image in python_kwargs(&text, "image") {
            assert_eq!(image, images[0], "{}", dag.path().display());
            used.insert(image);
        }
    }
    for image in images {
        assert!(used.contains(image), "{image} is printed and used");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_airflow_pod_writes_the_generated_dags_from_the_image() {
    let eco = mvp::ecosystem().validate().expect("valid");
    let airflow = kube::objects(&eco, &context())
        .into_iter()
        .find(|o| o.kind.kind == "Deployment" && o.name == "airflow")
        .expect("Airflow");
    let init = containers(&airflow)
        .into_iter()
        .find(|c| c["name"] == "dags")
        .expect("the dags init container")
        .clone();
    assert_eq!(
        init["image"],
        format!("datasurface/mvp:{}", datasurface::generate::image_tag(&eco))
    );
    let mut args: Vec<String> = init["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let folder = args.last().cloned().unwrap();
    assert_eq!(folder, "/opt/airflow/dags", "Airflow's DAG folder");
    let dir = std::env::temp_dir().join(format!("mvp-dag-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    *args.last_mut().unwrap() = dir.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .args(&args)
        .output()
        .expect("mvp dags");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    written.sort();
    let generated: Vec<(String, String)> = dags(&generate(&eco, &context()))
        .into_iter()
        .map(|a| {
            (
                a.path.rsplit('/').next().unwrap().to_owned(),
                a.contents.clone(),
            )
        })
        .collect();
    assert_eq!(
        written, generated,
        "the DAGs Airflow loads are the generated ones"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kubectl_kustomize_builds_exactly_the_generated_objects_in_order() {
    let kubectl = std::env::var_os("DATASURFACE_KUBECTL").unwrap_or_else(|| "kubectl".into());
    let (dir, _) = generate_with_the_binary("kustomize");
    let eco = mvp::ecosystem().validate().expect("valid");
    let objects = kube::objects(&eco, &context());
    for folder in ["kubernetes", "kubernetes/ns-kub-pg-test"] {
        let out = Command::new(&kubectl)
            .arg("kustomize")
            .arg(dir.join(folder))
            .output()
            .unwrap_or_else(|e| panic!("kubectl: {e}; install it (apt-get install kubectl)"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built: Vec<Value> =
            serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).expect("YAML");
        let names = |v: &Value| format!("{} {}", v["kind"], v["metadata"]["name"]);
        let built_names: Vec<String> = built.iter().map(names).collect();
        let wanted_names: Vec<String> = objects.iter().map(|o| names(&o.json)).collect();
        assert_eq!(
            built_names, wanted_names,
            "{folder}: the objects, in apply order"
        );
        for (b, object) in built.iter().zip(&objects) {
            assert!(*b == object.json, "{folder}: {} differs", object.describe());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_databases_job_creates_every_database_once() {
    let eco = mvp::ecosystem().validate().expect("valid");
    let job = kube::objects(&eco, &context())
        .into_iter()
        .find(|o| o.name.starts_with("postgres-databases-"))
        .expect("the databases Job");
    let container = &containers(&job)[0];
    let command: Vec<String> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        &command[4..],
        ["datasurface_merge", "airflow", "customer_db"]
    );

    let server =
        datasurface::dev::postgres::ThrowawayPostgres::start().expect("throwaway PostgreSQL");
    let bin = glob_psql();
    let run = || {
        Command::new(&command[0])
            .args(&command[1..])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", server.port().to_string())
            .env("PGUSER", "postgres")
            .env("PGDATABASE", "postgres")
            .output()
            .expect("sh")
    };
    for attempt in ["creates", "finds"] {
        let out = run();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{attempt}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout,
            "database datasurface_merge is there\ndatabase airflow is there\ndatabase customer_db is there\n"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = server.connect("postgres").await.expect("connect");
        let rows = client
            .query(
                "SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1",
                &[&vec!["airflow", "customer_db", "datasurface_merge"]],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
    });
}

/// The folder of `psql`.
fn glob_psql() -> PathBuf {
    if let Ok(found) = Command::new("sh").args(["-c", "command -v psql"]).output()
        && found.status.success()
    {
        let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        return PathBuf::from(path).parent().unwrap().to_owned();
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("a PostgreSQL install")
        .flatten()
        .map(|e| e.path().join("bin"))
        .find(|b| b.join("psql").exists())
        .expect("psql")
}

#[test]
fn the_image_tag_follows_the_model_and_the_build() {
    let eco = mvp::ecosystem().validate().expect("valid");
    let build = |b: &str| Context {
        binary: "mvp".into(),
        build: b.into(),
        lock: None,
    };
    let tag = |eco: &ValidEcosystem, b: &str| datasurface::codegen::image_tag(eco, &build(b));
    assert_eq!(
        tag(&eco, "a"),
        tag(&eco, "a"),
        "the same model and build, the same tag"
    );
    assert_ne!(tag(&eco, "a"), tag(&eco, "b"), "another build, another tag");
    let mut changed = mvp::ecosystem();
    changed.platforms[0].resources = Resources::new("200m", "128Mi");
    let changed = changed.validate().expect("valid");
    assert_ne!(
        tag(&eco, "a"),
        tag(&changed, "a"),
        "another model, another tag"
    );
    assert_eq!(
        datasurface::generate::image_tag(&eco),
        tag(&eco, datasurface::generate::BUILD_FINGERPRINT),
        "the binary's tag is its build's"
    );

    // Each Job's name carries the tag: a new model or binary, a new Job.
    let jobs = |eco: &ValidEcosystem, b: &str| -> BTreeSet<String> {
        kube::objects(eco, &build(b))
            .into_iter()
            .filter(|o| o.kind.kind == "Job")
            .map(|o| o.name)
            .collect()
    };
    let first = jobs(&eco, "a");
    assert_eq!(first.len(), 4);
    assert!(
        first.iter().all(|j| j.ends_with(&tag(&eco, "a"))),
        "{first:?}"
    );
    assert!(jobs(&eco, "b").is_disjoint(&first));
    assert!(jobs(&changed, "a").is_disjoint(&first));
}

#[test]
fn an_image_lock_for_the_current_tag_pins_every_image_by_digest() {
    let eco = mvp::ecosystem().validate().expect("valid");
    let tag = datasurface::codegen::image_tag(&eco, &context());
    let digest = format!("sha256:{}", "1".repeat(64));
    let dev = format!("sha256:{}", "2".repeat(64));
    let locked = |tag: &str| Context {
        lock: Some(datasurface::codegen::ImageLock {
            tag: tag.into(),
            image: digest.clone(),
            dev: Some(dev.clone()),
        }),
        ..context()
    };
    let repository = &eco.model().providers[0].image_repository;
    // Every container image of the objects, and the Airflow pod's init container's args.
    fn images(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        Value::String(image) if key == "image" => {
                            out.insert(image.clone());
                        }
                        _ => images(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| images(i, out)),
            _ => {}
        }
    }
    let ours = |context: &Context| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for o in kube::objects(&eco, context) {
            images(&o.json, &mut out);
        }
        out.into_iter()
            .filter(|i| i.starts_with(repository.as_str()))
            .collect()
    };
    let text = |context: &Context| -> String {
        kube::objects(&eco, context)
            .iter()
            .map(|o| o.yaml.clone())
            .collect()
    };

    assert_eq!(
        ours(&locked(&tag)),
        BTreeSet::from([
            format!("{repository}@{digest}"),
            format!("{repository}@{dev}")
        ])
    );
    // The Airflow pod's init container writes the DAGs with the same digests.
    let pinned = text(&locked(&tag));
    assert!(pinned.contains("- --image-digest\n"), "{pinned}");
    let dags =
        datasurface::codegen::dag_files(&eco, &locked(&tag), &eco.model().providers[0].namespace);
    assert!(
        dags.iter()
            .all(|d| !d.contents.contains(&format!(":{tag}")))
    );
    assert!(
        dags.iter()
            .any(|d| d.contents.contains(&format!("{repository}@{digest}")))
    );

    // A lock left from an earlier build is for another tag: the images keep their tag.
    let stale = text(&locked("0123456789ab"));
    assert_eq!(stale, text(&context()), "a stale lock changes nothing");
    assert_eq!(
        ours(&locked("0123456789ab")),
        BTreeSet::from([
            format!("{repository}:{tag}"),
            format!("{repository}:{tag}-dev")
        ])
    );
}
