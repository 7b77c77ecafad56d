//! How long `generate` takes for a large model: 1,000 datasets of 20 columns (10 stores of
//! 100), every dataset sunk by a live and a forensic dataset group.
//!
//! `cargo bench -p mvp --bench generate`

use datasurface::codegen::generate;
use datasurface::*;
use std::time::Instant;

fn model() -> ValidEcosystem {
    let types = [
        DataType::Varchar(50),
        DataType::Integer,
        DataType::BigInt,
        DataType::Numeric(Some((12, 2))),
        DataType::Date,
        DataType::TimestampTz,
        DataType::Boolean,
        DataType::Text,
    ];
    let mut team = Team::new("platform");
    let mut live = DatasetGroup::new("Live", Retention::LiveOnly);
    let mut forensic = DatasetGroup::new("History", Retention::Forensic);
    for s in 0..10 {
        let store_name = format!("Store{s}");
        let db = PostgresDatabase::new(format!("SourceDB{s}"), format!("source_{s}"))
            .at(format!("source-{s}"), 5432);
        let mut store = Datastore::new(&store_name).capture(SqlSnapshot::new(
            db,
            Credential::user_password("reader"),
            "*/15 * * * *",
        ));
        for d in 0..100 {
            let name = format!("dataset_{s}_{d}");
            let mut ds = DatasetSchema::new(&name)
                .column(Column::new("id", DataType::BigInt))
                .key(["id"]);
            for c in 1..20 {
                ds = ds.column(Column::nullable(
                    format!("column_{c}"),
                    types[(c + d) % types.len()],
                ));
            }
            store = store.dataset_schema(ds.classified(Classification::Internal));
            live = live.sink_named(&store_name, &name);
            forensic = forensic.sink_named(&store_name, &name);
        }
        team = team.datastore(store);
    }
    team = team.workspace(Workspace::new("Everything").dsg(live).dsg(forensic));
    let merge = PostgresDatabase::new("MergeDB", "merge").at("postgres", 5432);
    let provider = YellowServiceProvider::new(
        "Prod",
        "data-platform",
        merge,
        Credential::user_password("merge"),
    );
    Ecosystem::new("Large")
        .zone(GovernanceZone::new("Global").team(team))
        .platform(YellowPlatform::live("YellowLive", &provider))
        .platform(YellowPlatform::forensic("YellowForensic", &provider))
        .provider(provider)
        .assign(Assignment::new("Everything", "Live", "YellowLive"))
        .assign(Assignment::new("Everything", "History", "YellowForensic"))
        .validate()
        .expect("valid synthetic model")
}

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let start = Instant::now();
    let eco = model();
    let built = start.elapsed().as_secs_f64();
    let context = datasurface::generate::context("large");
    let mut times = Vec::new();
    let mut artifacts = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        artifacts = generate(&eco, &context);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let bytes: usize = artifacts.iter().map(|a| a.contents.len()).sum();
    println!(
        "synthetic model: 1000 datasets × 20 columns, 2 platforms; built and validated in {built:.2} s"
    );
    println!(
        "generate: {:.2} s (median of 3; min {:.2}, max {:.2}), {} files, {:.1} MiB, peak resident {:.0} MiB",
        times[1],
        times[0],
        times[2],
        artifacts.len(),
        bytes as f64 / 1_048_576.0,
        peak_mib()
    );
}
