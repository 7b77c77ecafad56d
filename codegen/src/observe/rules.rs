//! The alert rules of an ecosystem, over the console's metrics, and the `promtool test
//! rules` file that proves each one fires when it should and stays quiet otherwise.
//!
//! One rule serves every dataset: a dataset's budget is a metric the console exports from
//! the model, so a 100,000-dataset ecosystem has the same few rules as a small one, and a
//! consumer who declares a tighter latency changes the alert without touching a rule.

use super::names;
use datasurface_model::{ValidEcosystem, YellowServiceProvider, naming};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A batch still open after this many times the stream's usual duration runs long…
pub const LONG_RUN_FACTOR: f64 = 3.0;
/// …and after at least this many seconds (a quick stream's hiccup is not an alert).
pub const LONG_RUN_MIN_SECONDS: u64 = 600;
/// A batch deleting more than this share of the rows the batch before it had…
pub const DELETE_JUMP_SHARE: f64 = 0.1;
/// …and more than this many rows.
pub const DELETE_JUMP_MIN_ROWS: u64 = 100;
/// A snapshot outside these shares of the one before it is a volume jump.
pub const VOLUME_JUMP: (f64, f64) = (0.8, 1.5);

/// A Prometheus rule file: what `promtool check rules` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// An alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The Prometheus operator's `PrometheusRule` (monitoring.coreos.com/v1): the rule groups
/// as a cluster object. Typed here (k8s-openapi has no custom resources), so a round trip
/// through this struct checks its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRule {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: RuleFile,
}

/// The API version and kind of [`PrometheusRule`].
pub const PROMETHEUS_RULE_API: (&str, &str) = (
    <PrometheusRule as k8s_openapi::Resource>::API_VERSION,
    <PrometheusRule as k8s_openapi::Resource>::KIND,
);

/// What `deploy` needs to apply it as it applies every object: the operator's custom
/// resource, which a cluster serves only with the operator installed.
impl k8s_openapi::Resource for PrometheusRule {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const GROUP: &'static str = "monitoring.coreos.com";
    const KIND: &'static str = "PrometheusRule";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "prometheusrules";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for PrometheusRule {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// One alert with the series that make it fire, and those that must leave it quiet.
struct Alert {
    name: &'static str,
    expr: String,
    for_: Option<&'static str>,
    severity: &'static str,
    summary: &'static str,
    description: &'static str,
    /// What the test feeds, the minute it looks, and the labels of the firing subject.
    case: Case,
}

struct Case {
    /// (series, values) for the subject that fires…
    firing: Vec<(String, &'static str)>,
    /// …and for one that must not.
    quiet: Vec<(String, &'static str)>,
    eval_minutes: u32,
    labels: Vec<(&'static str, String)>,
}

/// The labels the alerts' subjects are tested with: the provider's first stream and
/// dataset, so the test reads like an alert of this ecosystem, and a quiet twin.
struct Subject {
    platform: String,
    stream: String,
    store: String,
    dataset: String,
}

impl Subject {
    fn of(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> Subject {
        for platform in eco.platforms_of(provider) {
            if let Some(stream) = eco.streams(platform).into_iter().next() {
                return Subject {
                    platform: platform.model.name.clone(),
                    stream: stream.key.to_string(),
                    store: stream.store.model.name.clone(),
                    dataset: stream.datasets[0].name.clone(),
                };
            }
        }
        Subject {
            platform: "platform".into(),
            stream: "store".into(),
            store: "store".into(),
            dataset: "dataset".into(),
        }
    }

    fn quiet(&self) -> Subject {
        Subject {
            platform: self.platform.clone(),
            stream: "quiet".into(),
            store: "quiet".into(),
            dataset: "quiet".into(),
        }
    }

    fn dataset_labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("platform", self.platform.clone()),
            ("stream", self.stream.clone()),
            ("store", self.store.clone()),
            ("dataset", self.dataset.clone()),
        ]
    }

    fn stream_labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("platform", self.platform.clone()),
            ("stream", self.stream.clone()),
        ]
    }
}

fn series(name: &str, labels: &[(&'static str, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn with(
    labels: &[(&'static str, String)],
    extra: (&'static str, &str),
) -> Vec<(&'static str, String)> {
    let mut out = labels.to_vec();
    out.push((extra.0, extra.1.to_owned()));
    out
}

fn alerts(subject: &Subject) -> Vec<Alert> {
    let quiet = subject.quiet();
    let (d, qd) = (subject.dataset_labels(), quiet.dataset_labels());
    let (s, qs) = (subject.stream_labels(), quiet.stream_labels());
    let by_dataset = "on(platform, stream, store, dataset)";
    let by_stream = "on(platform, stream)";
    vec![
        Alert {
            name: "DataSurfaceDatasetLate",
            expr: format!(
                "(time() - {last}) > {by_dataset} {budget}",
                last = names::LAST_SUCCESS,
                budget = names::BUDGET
            ),
            for_: None,
            severity: "critical",
            summary: "{{ $labels.store }}.{{ $labels.dataset }} on {{ $labels.platform }} is older than its consumers' latency",
            description: "The last committed batch of {{ $labels.store }}.{{ $labels.dataset }} on {{ $labels.platform }} (stream {{ $labels.stream }}) is older than the freshness budget its consumers declared. The console's dataset page shows its recent batches and any failed one.",
            case: Case {
                firing: vec![
                    (series(names::LAST_SUCCESS, &d), "0x10"),
                    (series(names::BUDGET, &d), "300x10"),
                ],
                quiet: vec![
                    (series(names::LAST_SUCCESS, &qd), "0+60x10"),
                    (series(names::BUDGET, &qd), "300x10"),
                ],
                eval_minutes: 10,
                labels: d.clone(),
            },
        },
        Alert {
            name: "DataSurfaceBatchFailing",
            expr: format!("{} == 1", names::FAILING),
            for_: Some("15m"),
            severity: "critical",
            summary: "Batches of {{ $labels.stream }} on {{ $labels.platform }} keep failing",
            description: "The open batch of {{ $labels.stream }} on {{ $labels.platform }} has failed for 15 minutes. The console's store page shows its last error and the reset-batch command.",
            case: Case {
                firing: vec![(series(names::FAILING, &s), "1x30")],
                quiet: vec![(series(names::FAILING, &qs), "0x30")],
                eval_minutes: 20,
                labels: s.clone(),
            },
        },
        Alert {
            name: "DataSurfaceBatchRunningLong",
            expr: format!(
                "{open} > {by_stream} ({LONG_RUN_FACTOR} * {usual}) and {open} > {LONG_RUN_MIN_SECONDS}",
                open = names::OPEN_AGE,
                usual = names::USUAL_DURATION
            ),
            for_: Some("5m"),
            severity: "warning",
            summary: "A batch of {{ $labels.stream }} on {{ $labels.platform }} runs far longer than usual",
            description: "The open batch of {{ $labels.stream }} on {{ $labels.platform }} has run for more than three times the stream's usual duration.",
            case: Case {
                firing: vec![
                    (series(names::OPEN_AGE, &s), "0+60x20"),
                    (series(names::USUAL_DURATION, &s), "60x20"),
                ],
                quiet: vec![
                    (series(names::OPEN_AGE, &qs), "0x20"),
                    (series(names::USUAL_DURATION, &qs), "60x20"),
                ],
                eval_minutes: 16,
                labels: s.clone(),
            },
        },
        Alert {
            name: "DataSurfaceStreamSilent",
            expr: format!(
                "(time() - {report}) > {by_stream} (2 * {gap})",
                report = names::LAST_REPORT,
                gap = names::CAPTURE_GAP
            ),
            for_: Some("5m"),
            severity: "warning",
            summary: "No batch of {{ $labels.stream }} on {{ $labels.platform }} has started for two capture intervals",
            description: "Nothing has started a batch of {{ $labels.stream }} on {{ $labels.platform }} for twice the longest wait of its schedule: is the scheduler running and the DAG unpaused?",
            case: Case {
                firing: vec![
                    (series(names::LAST_REPORT, &s), "0x30"),
                    (series(names::CAPTURE_GAP, &s), "60x30"),
                ],
                quiet: vec![
                    (series(names::LAST_REPORT, &qs), "0+60x30"),
                    (series(names::CAPTURE_GAP, &qs), "60x30"),
                ],
                eval_minutes: 10,
                labels: s.clone(),
            },
        },
        Alert {
            name: "DataSurfaceMergeDatabaseUnreachable",
            expr: format!("{} == 0", names::UP),
            for_: Some("5m"),
            severity: "critical",
            summary: "The console cannot read the batch tables of {{ $labels.platform }}",
            description: "The merge database of {{ $labels.platform }} could not be read for 5 minutes; the console's pages say why.",
            case: Case {
                firing: vec![(series(names::UP, &s[..1]), "0x20")],
                quiet: vec![(series(names::UP, &[("platform", "quiet".into())]), "1x20")],
                eval_minutes: 10,
                labels: s[..1].to_vec(),
            },
        },
        Alert {
            name: "DataSurfaceConsoleNotReading",
            expr: format!("(time() - {}) > 300", names::READ_TIMESTAMP),
            for_: Some("5m"),
            severity: "warning",
            summary: "The console has not read the batch tables for 5 minutes",
            description: "The console's last read of the batch tables is more than 5 minutes old: its metrics are not the truth any more.",
            case: Case {
                firing: vec![(
                    series(names::READ_TIMESTAMP, &[("instance", "stuck".into())]),
                    "0x20",
                )],
                quiet: vec![(
                    series(names::READ_TIMESTAMP, &[("instance", "quiet".into())]),
                    "0+60x20",
                )],
                eval_minutes: 15,
                labels: vec![("instance", "stuck".into())],
            },
        },
        Alert {
            name: "DataSurfaceDeletesJump",
            expr: format!(
                "({rec}{{kind=\"deleted\"}} > {DELETE_JUMP_MIN_ROWS}) > ignoring(kind) ({DELETE_JUMP_SHARE} * {prev})",
                rec = names::STREAM_RECORDS,
                prev = names::PREVIOUS_TOTAL
            ),
            for_: None,
            severity: "warning",
            summary: "The last batch of {{ $labels.stream }} on {{ $labels.platform }} deleted an unusual share of rows",
            description: "The last committed batch of {{ $labels.stream }} on {{ $labels.platform }} deleted more than a tenth of the rows the batch before it had: did the source lose data?",
            case: Case {
                firing: vec![
                    (
                        series(names::STREAM_RECORDS, &with(&s, ("kind", "deleted"))),
                        "0x2 500x7",
                    ),
                    (series(names::PREVIOUS_TOTAL, &s), "1000x10"),
                ],
                quiet: vec![
                    (
                        series(names::STREAM_RECORDS, &with(&qs, ("kind", "deleted"))),
                        "5x10",
                    ),
                    (series(names::PREVIOUS_TOTAL, &qs), "1000x10"),
                ],
                eval_minutes: 5,
                // Matching ignores `kind`, so the alert has not got it.
                labels: s.clone(),
            },
        },
        Alert {
            name: "DataSurfaceVolumeJump",
            expr: format!(
                "{rec}{{kind=\"total\"}} < ignoring(kind) ({low} * {prev}) or {rec}{{kind=\"total\"}} > ignoring(kind) ({high} * {prev})",
                rec = names::STREAM_RECORDS,
                prev = names::PREVIOUS_TOTAL,
                low = VOLUME_JUMP.0,
                high = VOLUME_JUMP.1
            ),
            for_: None,
            severity: "warning",
            summary: "The snapshot of {{ $labels.stream }} on {{ $labels.platform }} changed size sharply",
            description: "The last committed batch of {{ $labels.stream }} on {{ $labels.platform }} read a snapshot below 80% or above 150% of the one before it.",
            case: Case {
                firing: vec![
                    (
                        series(names::STREAM_RECORDS, &with(&s, ("kind", "total"))),
                        "1000x2 500x7",
                    ),
                    (series(names::PREVIOUS_TOTAL, &s), "1000x10"),
                ],
                quiet: vec![
                    (
                        series(names::STREAM_RECORDS, &with(&qs, ("kind", "total"))),
                        "1000x10",
                    ),
                    (series(names::PREVIOUS_TOTAL, &qs), "1000x10"),
                ],
                eval_minutes: 5,
                labels: s.clone(),
            },
        },
    ]
}

/// The rule file of the provider's platforms.
pub fn rule_file(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> RuleFile {
    let subject = Subject::of(eco, provider);
    let rules = alerts(&subject)
        .into_iter()
        .map(|a| Rule {
            alert: a.name.into(),
            expr: a.expr,
            for_: a.for_.map(Into::into),
            labels: BTreeMap::from([
                ("severity".to_owned(), a.severity.to_owned()),
                ("ecosystem".to_owned(), eco.model().name.clone()),
            ]),
            annotations: BTreeMap::from([
                ("summary".to_owned(), a.summary.to_owned()),
                ("description".to_owned(), a.description.to_owned()),
            ]),
        })
        .collect();
    RuleFile {
        groups: vec![RuleGroup {
            name: format!("datasurface-{}", naming::k8s_name(&eco.model().name)),
            rules,
        }],
    }
}

/// The `PrometheusRule` of the provider's namespace.
pub fn prometheus_rule(
    eco: &ValidEcosystem,
    provider: &YellowServiceProvider,
    metadata: ObjectMeta,
) -> PrometheusRule {
    PrometheusRule {
        api_version: PROMETHEUS_RULE_API.0.into(),
        kind: PROMETHEUS_RULE_API.1.into(),
        metadata,
        spec: rule_file(eco, provider),
    }
}

/// A `promtool test rules` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTests {
    pub rule_files: Vec<String>,
    pub evaluation_interval: String,
    pub tests: Vec<RuleTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    pub name: String,
    pub interval: String,
    pub input_series: Vec<InputSeries>,
    pub alert_rule_test: Vec<AlertTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    pub eval_time: String,
    pub alertname: String,
    pub exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    pub exp_labels: BTreeMap<String, String>,
    pub exp_annotations: BTreeMap<String, String>,
}

/// The tests of [`rule_file`], reading it from `rules` (a path beside the test file): for
/// each alert, its subject fires and a quiet twin does not; before its `for` has passed,
/// nothing fires.
pub fn rule_tests(
    eco: &ValidEcosystem,
    provider: &YellowServiceProvider,
    rules: &str,
) -> RuleTests {
    let subject = Subject::of(eco, provider);
    let tests = alerts(&subject)
        .into_iter()
        .map(|a| {
            let mut labels: BTreeMap<String, String> = a
                .case
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            labels.insert("severity".into(), a.severity.into());
            labels.insert("ecosystem".into(), eco.model().name.clone());
            let annotations = BTreeMap::from([
                ("summary".to_owned(), expand(a.summary, &labels)),
                ("description".to_owned(), expand(a.description, &labels)),
            ]);
            let mut checks = vec![AlertTest {
                eval_time: format!("{}m", a.case.eval_minutes),
                alertname: a.name.into(),
                exp_alerts: vec![ExpectedAlert {
                    exp_labels: labels,
                    exp_annotations: annotations,
                }],
            }];
            // At the start nothing has been late long enough.
            checks.insert(
                0,
                AlertTest {
                    eval_time: "0m".into(),
                    alertname: a.name.into(),
                    exp_alerts: Vec::new(),
                },
            );
            RuleTest {
                name: format!("{} fires for its subject only", a.name),
                interval: "1m".into(),
                input_series: a
                    .case
                    .firing
                    .into_iter()
                    .chain(a.case.quiet)
                    .map(|(series, values)| InputSeries {
                        series,
                        values: values.into(),
                    })
                    .collect(),
                alert_rule_test: checks,
            }
        })
        .collect();
    RuleTests {
        rule_files: vec![rules.into()],
        evaluation_interval: "1m".into(),
        tests,
    }
}

/// An annotation as Prometheus renders it for an alert with `labels`: the templates here
/// use only `{{ $labels.NAME }}`.
fn expand(template: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = template.to_owned();
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    out
}
