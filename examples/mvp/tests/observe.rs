//! What `generate` writes to watch the ecosystem: the alert rules pass `promtool check
//! rules`, their generated tests pass `promtool test rules` (each alert fires for its
//! subject, stays quiet for a healthy twin, and waits out its `for`), the `PrometheusRule`
//! has exactly the operator's shape, and the Grafana dashboard's ConfigMap is labelled for
//! the dashboard sidecar and queries only metrics the console exports.

use datasurface::codegen::kube::DASHBOARD;
use datasurface::codegen::observe::names;
use datasurface::codegen::observe::rules::{PROMETHEUS_RULE_API, PrometheusRule, RuleFile};
use datasurface::codegen::{Artifact, generate};
use datasurface::serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn artifacts() -> Vec<Artifact> {
    let eco = mvp::ecosystem().validate().expect("valid");
    generate(&eco, &datasurface::generate::context("mvp"))
}

fn file<'a>(artifacts: &'a [Artifact], suffix: &str) -> &'a Artifact {
    artifacts
        .iter()
        .find(|a| a.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("no generated {suffix}"))
}

fn promtool() -> PathBuf {
    let tool = std::env::var_os("DATASURFACE_PROMTOOL")
        .map_or_else(|| PathBuf::from("/usr/bin/promtool"), PathBuf::from);
    assert!(
        tool.exists(),
        "{} is missing: scripts/test.sh installs it (apt-get install prometheus)",
        tool.display()
    );
    tool
}

#[test]
fn the_generated_rules_pass_promtool_check_and_their_tests() {
    let artifacts = artifacts();
    let dir = std::env::temp_dir().join(format!("datasurface-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    for name in ["rules.yaml", "rules.test.yaml"] {
        std::fs::write(
            dir.join(name),
            &file(&artifacts, &format!("/{name}")).contents,
        )
        .expect("write");
    }
    for args in [
        ["check", "rules", "rules.yaml"],
        ["test", "rules", "rules.test.yaml"],
    ] {
        let out = Command::new(promtool())
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_prometheus_rule_has_the_operators_shape() {
    let artifacts = artifacts();
    let text = &file(&artifacts, "/prometheus-rule.yaml").contents;
    // Unknown fields are refused, so this round trip checks every field's name and type.
    let rule: PrometheusRule = serde_saphyr::from_str(text).expect("a PrometheusRule");
    assert_eq!(
        (rule.api_version.as_str(), rule.kind.as_str()),
        PROMETHEUS_RULE_API
    );
    assert_eq!(rule.metadata.namespace.as_deref(), Some("ns-kub-pg-test"));
    assert_eq!(serde_saphyr::to_string(&rule).expect("YAML"), *text);
    let plain: RuleFile =
        serde_saphyr::from_str(&file(&artifacts, "/rules.yaml").contents).expect("rules");
    assert_eq!(
        plain, rule.spec,
        "the plain rule file holds the same groups"
    );
    let alerts: Vec<&str> = rule.spec.groups[0]
        .rules
        .iter()
        .map(|r| r.alert.as_str())
        .collect();
    for alert in [
        "DataSurfaceDatasetLate",
        "DataSurfaceBatchFailing",
        "DataSurfaceBatchRunningLong",
        "DataSurfaceStreamSilent",
        "DataSurfaceDeletesJump",
        "DataSurfaceVolumeJump",
    ] {
        assert!(alerts.contains(&alert), "{alert} in {alerts:?}");
    }
}

#[test]
fn the_dashboard_is_labelled_for_the_sidecar_and_reads_the_consoles_metrics() {
    let artifacts = artifacts();
    let config = artifacts
        .iter()
        .find(|a| {
            a.path.starts_with("kubernetes/") && a.contents.contains(&format!("name: {DASHBOARD}"))
        })
        .expect("the dashboard ConfigMap");
    let map: k8s_openapi::api::core::v1::ConfigMap =
        serde_saphyr::from_str(&config.contents).expect("a ConfigMap");
    let labels = map.metadata.labels.expect("labels");
    assert_eq!(
        labels.get("grafana_dashboard").map(String::as_str),
        Some("1")
    );
    let json: Value =
        datasurface::serde_json::from_str(&map.data.expect("data")["datasurface.json"])
            .expect("dashboard JSON");
    let exprs: Vec<&str> = json["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .map(|p| p["targets"][0]["expr"].as_str().expect("expr"))
        .collect();
    let known = [
        names::UP,
        names::BUDGET,
        names::LAST_SUCCESS,
        names::FAILING,
        names::OPEN_AGE,
        names::STREAM_RECORDS,
        names::DURATION,
        names::PHASE_DURATION,
    ];
    for expr in exprs {
        let used: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("datasurface_"))
            .collect();
        assert!(!used.is_empty(), "{expr}");
        for metric in used {
            assert!(known.contains(&metric), "{metric} in {expr}");
        }
    }
}
