//! The large synthetic model the benchmarks share: `stores` stores of `datasets` datasets
//! of `columns` columns, every dataset sunk by a live and a forensic dataset group.

use datasurface::*;

/// The model of `stores` × `datasets` × `columns`.
pub(crate) fn model(stores: usize, datasets: usize, columns: usize) -> Ecosystem {
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
    for s in 0..stores {
        let store_name = format!("Store{s}");
        let db = PostgresDatabase::new(format!("SourceDB{s}"), format!("source_{s}"))
            .at(format!("source-{s}"), 5432);
        let mut store = Datastore::new(&store_name).capture(SqlSnapshot::new(
            db,
            Credential::user_password("reader"),
            "*/15 * * * *",
        ));
        for d in 0..datasets {
            let name = format!("dataset_{s}_{d}");
            let mut ds = DatasetSchema::new(&name)
                .column(Column::new("id", DataType::BigInt))
                .key(["id"]);
            for c in 1..columns {
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
}
