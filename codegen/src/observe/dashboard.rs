//! The Grafana dashboard of an ecosystem's console metrics: freshness against each
//! dataset's budget, failing and long-running batches, counts and durations per batch.
//! Its queries read only the metrics of [`names`](super::names).

use super::names;
use datasurface_model::ValidEcosystem;
use serde_json::{Value, json};

/// One panel: a title, its PromQL, how it is drawn and where.
fn panel(
    id: u32,
    title: &str,
    kind: &str,
    expr: &str,
    legend: &str,
    pos: (u32, u32, u32, u32),
) -> Value {
    let (x, y, w, h) = pos;
    json!({
        "id": id,
        "title": title,
        "type": kind,
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "gridPos": { "x": x, "y": y, "w": w, "h": h },
        "targets": [{ "refId": "A", "expr": expr, "legendFormat": legend }],
    })
}

/// The dashboard's JSON (pretty-printed, deterministic).
pub fn json(eco: &ValidEcosystem) -> String {
    let name = &eco.model().name;
    let overdue = format!(
        "(time() - {last}) / on(platform, stream, store, dataset) {budget}",
        last = names::LAST_SUCCESS,
        budget = names::BUDGET
    );
    let panels = vec![
        panel(
            1,
            "Datasets past their consumers' latency",
            "stat",
            &format!("count(({overdue}) > 1) or vector(0)"),
            "",
            (0, 0, 6, 4),
        ),
        panel(
            2,
            "Failing streams",
            "stat",
            &format!("sum({}) or vector(0)", names::FAILING),
            "",
            (6, 0, 6, 4),
        ),
        panel(
            3,
            "Merge databases read",
            "stat",
            &format!("min({})", names::UP),
            "",
            (12, 0, 6, 4),
        ),
        panel(
            4,
            "Open batches",
            "stat",
            &format!("count({} > 0) or vector(0)", names::OPEN_AGE),
            "",
            (18, 0, 6, 4),
        ),
        panel(
            5,
            "Age over budget, worst datasets (1 = at budget)",
            "timeseries",
            &format!("topk(20, {overdue})"),
            "{{platform}} {{store}}.{{dataset}}",
            (0, 4, 24, 9),
        ),
        panel(
            6,
            "Rows per batch",
            "timeseries",
            &format!(
                "sum by (platform, stream, kind) ({})",
                names::STREAM_RECORDS
            ),
            "{{platform}} {{stream}} {{kind}}",
            (0, 13, 12, 9),
        ),
        panel(
            7,
            "Batch duration (seconds)",
            "timeseries",
            names::DURATION,
            "{{platform}} {{stream}}",
            (12, 13, 12, 9),
        ),
        panel(
            8,
            "Where the slowest batches spend their time: reading the source, merging (seconds)",
            "timeseries",
            &format!("topk(20, {})", names::PHASE_DURATION),
            "{{platform}} {{stream}} {{phase}}",
            (0, 22, 24, 9),
        ),
    ];
    let dashboard = json!({
        "uid": format!("datasurface-{}", datasurface_model::naming::k8s_name(name)),
        "title": format!("DataSurface {name}"),
        "tags": ["datasurface"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": { "from": "now-24h", "to": "now" },
        "templating": { "list": [{
            "name": "datasource",
            "type": "datasource",
            "query": "prometheus",
        }]},
        "panels": panels,
    });
    serde_json::to_string_pretty(&dashboard).expect("JSON values serialise")
}
