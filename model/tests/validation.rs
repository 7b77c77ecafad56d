//! Every validation rule, failing and passing, on a small model built without the derive.

use datasurface_model::*;

fn people() -> DatasetSchema {
    DatasetSchema::new("people")
        .column(Column::new("id", DataType::Integer))
        .column(Column::new("firstName", DataType::Varchar(100)))
        .column(Column::nullable("dob", DataType::Date))
        .key(["id"])
        .classified(Classification::Personal)
}

fn jobs() -> DatasetSchema {
    DatasetSchema::new("jobs")
        .column(Column::new("id", DataType::BigInt))
        .column(Column::nullable("title", DataType::Text))
        .key(["id"])
        .classified(Classification::Internal)
}

fn source() -> PostgresDatabase {
    PostgresDatabase::new("HrDB", "hr").at("hr-db.example.com", 5432)
}

/// A valid model: one store with two datasets, two DSGs, a live and a forensic platform.
fn base() -> Ecosystem {
    let store = Datastore::new("HR")
        .capture(SqlSnapshot::new(
            source(),
            Credential::user_password("hr_reader"),
            "*/5 * * * *",
        ))
        .dataset_schema(people())
        .dataset_schema(jobs());
    let ws = Workspace::new("Analytics")
        .dsg(
            DatasetGroup::new("Current", Retention::LiveOnly)
                .sink::<PeopleRef>(&store)
                .sink_named("HR", "jobs"),
        )
        .dsg(DatasetGroup::new("History", Retention::Forensic).sink_named("HR", "people"));
    let merge = PostgresDatabase::new("MergeDB", "datasurface_merge").at("merge-db", 5432);
    let provider = YellowServiceProvider::new(
        "Prod",
        "data-platform",
        merge,
        Credential::user_password("merge"),
    );
    Ecosystem::new("Corp")
        .zone(GovernanceZone::new("EU").team(Team::new("hr").datastore(store).workspace(ws)))
        .platform(YellowPlatform::live("YellowLive", &provider))
        .platform(YellowPlatform::forensic("YellowForensic", &provider))
        .provider(provider)
        .assign(Assignment::new("Analytics", "Current", "YellowLive"))
        .assign(Assignment::new("Analytics", "History", "YellowForensic"))
}

/// A hand-written `Dataset` for `people`, to use the typed sink API without the derive.
struct PeopleRef;
impl Dataset for PeopleRef {
    const NAME: &'static str = "people";
    const COLUMNS: &'static [&'static str] = &["id", "firstName", "dob"];
    const KEY: &'static [&'static str] = &["id"];
    fn schema() -> DatasetSchema {
        people()
    }
    fn to_row(&self) -> Vec<Value> {
        Vec::new()
    }
    fn from_row(_: Vec<Value>) -> Result<Self, RowError> {
        Ok(PeopleRef)
    }
    fn key(&self) -> Vec<Value> {
        Vec::new()
    }
}

fn with(change: impl FnOnce(&mut Ecosystem)) -> Ecosystem {
    let mut eco = base();
    change(&mut eco);
    eco
}

fn store(eco: &mut Ecosystem) -> &mut Datastore {
    &mut eco.zones[0].teams[0].datastores[0]
}

fn snapshot(eco: &mut Ecosystem) -> &mut SqlSnapshot {
    match store(eco).capture.as_mut() {
        Some(Capture::SqlSnapshot(s)) => s,
        Some(Capture::LogicalReplication(r)) => &mut r.snapshot,
        None => panic!("base model has a capture"),
    }
}

fn workspace(eco: &mut Ecosystem) -> &mut Workspace {
    &mut eco.zones[0].teams[0].workspaces[0]
}

/// The errors of `eco`, each as `path: message [hint]`.
fn errors(eco: Ecosystem) -> Vec<String> {
    match eco.validate() {
        Ok(_) => Vec::new(),
        Err(report) => report
            .errors()
            .map(|d| {
                format!(
                    "{}: {} [{}]",
                    d.path,
                    d.message,
                    d.hint.clone().unwrap_or_default()
                )
            })
            .collect(),
    }
}

fn warnings(eco: Ecosystem) -> Vec<String> {
    let report = match eco.validate() {
        Ok(valid) => valid.warnings().to_vec(),
        Err(report) => report.diagnostics,
    };
    report
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect()
}

/// Asserts that exactly one error mentions all of `parts`.
#[track_caller]
fn assert_error(eco: Ecosystem, parts: &[&str]) {
    let errors = errors(eco);
    let hits: Vec<_> = errors
        .iter()
        .filter(|e| parts.iter().all(|p| e.contains(p)))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one error with {parts:?}, got:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_base_model_is_valid_without_warnings() {
    let valid = base().validate().expect("valid");
    assert!(valid.warnings().is_empty(), "{:?}", valid.warnings());
    let ingested: Vec<_> = valid
        .model()
        .ingested_datasets("YellowLive")
        .iter()
        .map(|(s, d)| format!("{}.{}", s.name, d.name))
        .collect();
    assert_eq!(ingested, ["HR.people", "HR.jobs"]);
    assert_eq!(valid.model().ingested_datasets("YellowForensic").len(), 1);
}

#[test]
fn names_must_be_sql_identifiers() {
    assert_error(
        with(|e| store(e).datasets[0].name = "bad-name".into()),
        &[
            "ecosystem Corp › zone EU › team hr › datastore HR › dataset bad-name",
            "contains `-`",
        ],
    );
    assert_error(
        with(|e| store(e).datasets[1].columns[1].name = "order".into()),
        &[
            "dataset jobs › column order",
            "`order` is a reserved word in PostgreSQL",
        ],
    );
    assert_error(
        with(|e| store(e).datasets[1].columns[1].name = "ds_surf_batch_id".into()),
        &["column ds_surf_batch_id", "platforms reserve"],
    );
    assert_error(
        with(|e| e.platforms[0].name = "Yellow Live".into()),
        &["platform Yellow Live", "contains ` `"],
    );
    assert_error(
        with(|e| e.name = "1corp".into()),
        &["ecosystem 1corp", "must start with an ASCII letter"],
    );
    assert_error(
        with(|e| workspace(e).dsgs[0].name = "x".repeat(64)),
        &["dataset group name", "64 bytes long"],
    );
}

#[test]
fn platform_names_must_also_make_kubernetes_names() {
    assert_error(
        with(|e| e.platforms[0].name = "Live_".into()),
        &["platform Live_", "maps to `live-`"],
    );
}

#[test]
fn names_are_unique_where_they_meet() {
    let dup_store = with(|e| {
        let copy = store(e).clone().capture(snapshot(e).clone());
        e.zones[0]
            .teams
            .push(Team::new("finance").datastore(Datastore {
                name: "hr".into(),
                ..copy
            }));
    });
    assert_error(
        dup_store,
        &[
            "team finance › datastore hr",
            "duplicate datastore `hr` (as `HR`",
            "the first is at ecosystem Corp › zone EU › team hr › datastore HR",
        ],
    );
    let dup_ws = with(|e| {
        let ws = workspace(e).clone();
        e.zones[0].teams.push(Team::new("finance").workspace(ws));
    });
    assert_error(
        dup_ws,
        &[
            "team finance › workspace Analytics",
            "duplicate workspace `Analytics`",
        ],
    );
    assert_error(
        with(|e| store(e).datasets[1].name = "People".into()),
        &["dataset People", "duplicate dataset"],
    );
    assert_error(
        with(|e| store(e).datasets[0].columns[2].name = "FIRSTNAME".into()),
        &[
            "column FIRSTNAME",
            "duplicate column `FIRSTNAME` (as `firstName`",
        ],
    );
    assert_error(
        with(|e| workspace(e).dsgs[1].name = "Current".into()),
        &["dsg Current", "duplicate dataset group"],
    );
    assert_error(
        with(|e| {
            workspace(e).dsgs[0].sinks.push(Sink {
                store: "HR".into(),
                dataset: "jobs".into(),
            })
        }),
        &["sink HR.jobs", "listed twice"],
    );
    assert_error(
        with(|e| e.zones.push(GovernanceZone::new("eu"))),
        &["zone eu", "duplicate zone"],
    );
    assert_error(
        with(|e| e.zones[0].teams.push(Team::new("HR"))),
        &["team HR", "duplicate team"],
    );
    assert_error(
        with(|e| {
            e.platforms
                .push(YellowPlatform::live("yellowlive", &e.providers[0].clone()))
        }),
        &["platform yellowlive", "duplicate platform"],
    );
    assert_error(
        with(|e| e.providers.push(e.providers[0].clone())),
        &["provider Prod", "duplicate service provider"],
    );
}

#[test]
fn keys_exist_and_are_not_null() {
    assert_error(
        with(|e| store(e).datasets[0].primary_key.clear()),
        &["dataset people", "no primary key"],
    );
    assert_error(
        with(|e| store(e).datasets[0].primary_key = vec!["ID_".into()]),
        &[
            "dataset people › key ID_",
            "not a column",
            "did you mean `id`?",
        ],
    );
    assert_error(
        with(|e| store(e).datasets[0].primary_key = vec!["id".into(), "dob".into()]),
        &["key dob", "nullable"],
    );
    assert_error(
        with(|e| store(e).datasets[0].primary_key = vec!["id".into(), "id".into()]),
        &["key id", "listed twice"],
    );
    assert_error(
        with(|e| store(e).datasets[0].columns[0].data_type = DataType::Json),
        &[
            "dataset people › key id",
            "is json, which cannot be a key",
            "make the key of another type",
        ],
    );
    assert_error(
        with(|e| store(e).datasets[0].columns[0].data_type = DataType::Jsonb),
        &["dataset people › key id", "is jsonb, which cannot be a key"],
    );
    assert!(
        errors(with(
            |e| store(e).datasets[0].primary_key = vec!["id".into(), "firstName".into()]
        ))
        .is_empty()
    );
}

#[test]
fn a_datastore_has_capture_and_datasets() {
    assert_error(
        with(|e| store(e).capture = None),
        &["datastore HR", "no capture metadata"],
    );
    let empty = with(|e| {
        store(e).datasets.clear();
        workspace(e).dsgs.iter_mut().for_each(|d| d.sinks.clear());
    });
    assert_error(empty, &["datastore HR", "has no datasets"]);
    assert_error(
        with(|e| store(e).datasets[1].columns.clear()),
        &["dataset jobs", "no columns"],
    );
}

#[test]
fn column_types_respect_postgres_limits() {
    assert_error(
        with(|e| store(e).datasets[0].columns[1].data_type = DataType::Varchar(0)),
        &["column firstName", "length 0 of varchar(0)"],
    );
}

#[test]
fn sinks_name_existing_stores_and_datasets() {
    assert_error(
        with(|e| workspace(e).dsgs[0].sinks[1].store = "Hr1".into()),
        &[
            "dsg Current › sink Hr1.jobs",
            "no datastore `Hr1`",
            "did you mean `HR`?",
        ],
    );
    assert_error(
        with(|e| workspace(e).dsgs[0].sinks[1].dataset = "job".into()),
        &[
            "sink HR.job",
            "no dataset `job` in datastore HR",
            "did you mean `jobs`?",
        ],
    );
}

#[test]
fn assignments_match_retention_and_resolve() {
    assert_error(
        with(|e| e.assignments[0].platform = "YellowForensic".into()),
        &[
            "assignment Analytics.Current → YellowForensic",
            "asks for LIVE_ONLY retention, but platform YellowForensic is forensic",
            "assign it to `YellowLive`",
        ],
    );
    assert_error(
        with(|e| e.assignments[1].platform = "YellowLive".into()),
        &[
            "asks for FORENSIC retention, but platform YellowLive is live",
            "assign it to `YellowForensic`",
        ],
    );
    assert_error(
        with(|e| e.assignments[0].platform = "YelowLive".into()),
        &["no platform `YelowLive`", "did you mean `YellowLive`?"],
    );
    assert_error(
        with(|e| e.assignments[0].workspace = "Analytic".into()),
        &["no workspace `Analytic`", "did you mean `Analytics`?"],
    );
    assert_error(
        with(|e| e.assignments[0].dsg = "current".into()),
        &["no dataset group `current`", "did you mean `Current`?"],
    );
    assert_error(
        with(|e| e.assignments.push(e.assignments[0].clone())),
        &["assigned to this platform twice"],
    );
}

#[test]
fn a_command_line_names_the_model_in_any_case() {
    let eco = base().validate().expect("valid");
    assert_eq!(eco.platform("YellowLive").unwrap().model.name, "YellowLive");
    assert_eq!(eco.platform("yellowlive").unwrap().model.name, "YellowLive");
    assert_eq!(eco.store("hr").unwrap().model.name, "HR");
    assert_eq!(
        eco.platform("yelowlive"),
        Err(LookupError::UnknownPlatform {
            platform: "yelowlive".into(),
            suggestion: Some("did you mean `YellowLive`?".into()),
        })
    );
    let stream = eco.stream("yellowlive", "hr", None).unwrap();
    assert_eq!(stream.platform.model.name, "YellowLive");
    assert_eq!(stream.key.to_string(), "HR");
    assert_eq!(
        eco.stream("yellowlive", "hr", Some("people")),
        Err(LookupError::DatasetNotAllowed { store: "HR".into() })
    );

    let single = with(|e| snapshot(e).consistency = Consistency::SingleDataset)
        .validate()
        .expect("valid");
    let stream = single.stream("YELLOWLIVE", "Hr", Some("PEOPLE")).unwrap();
    assert_eq!(stream.key.to_string(), "HR#people");
    assert_eq!(stream.datasets.len(), 1);
    assert_eq!(stream.datasets[0].name, "people");
    assert_eq!(
        single.stream("YellowLive", "HR", Some("peeple")),
        Err(LookupError::UnknownDataset {
            store: "HR".into(),
            dataset: "peeple".into(),
            suggestion: Some("did you mean `people`?".into()),
        })
    );
}

#[test]
fn captures_have_a_valid_trigger_host_port_and_guard() {
    assert_error(
        with(|e| snapshot(e).trigger = "*/5 * * *".into()),
        &[
            "capture sql snapshot",
            "invalid cron trigger",
            "has 4 fields",
        ],
    );
    assert_error(
        with(|e| snapshot(e).database.host = "hr_db".into()),
        &["database HrDB", "host `hr_db`"],
    );
    assert_error(
        with(|e| snapshot(e).database.port = 0),
        &["database HrDB", "port 0"],
    );
    assert_error(
        with(|e| snapshot(e).max_delete_percent = 0),
        &["max_delete_percent is 0"],
    );
    assert_error(
        with(|e| snapshot(e).max_delete_percent = 101),
        &["max_delete_percent is 101"],
    );
    assert!(errors(with(|e| snapshot(e).max_delete_percent = 100)).is_empty());
    assert!(errors(with(|e| snapshot(e).database.host = "10.0.0.7".into())).is_empty());
}

#[test]
fn resources_are_kubernetes_quantities() {
    assert_error(
        with(|e| e.platforms[0].resources = Resources::new("half", "512Mi")),
        &[
            "platform YellowLive",
            "pod cpu request",
            "`half` is not a Kubernetes quantity",
        ],
    );
    assert_error(
        with(|e| e.providers[0].airflow_resources = Resources::new("1", "1GB")),
        &["provider Prod", "Airflow memory request", "`1GB`"],
    );
    assert_error(
        with(|e| e.providers[0].postgres_resources = Resources::new("1", "1Gi").memory_limit("0")),
        &["provider Prod", "PostgreSQL memory limit", "`0`"],
    );
    assert!(
        errors(with(|e| e.platforms[0].resources =
            Resources::new("500m", "256Mi")
                .cpu_limit("2")
                .memory_limit("1Gi")))
        .is_empty()
    );
}

#[test]
fn providers_have_a_kubernetes_namespace_and_an_image_repository() {
    assert_error(
        with(|e| e.providers[0].namespace = "Data_Platform".into()),
        &[
            "provider Prod",
            "namespace `Data_Platform` is not an RFC 1123 label",
            "did you mean `data-platform`?",
        ],
    );
    assert_error(
        with(|e| e.providers[0].image_repository = "corp/eco:latest".into()),
        &["image repository `corp/eco:latest`", "without a tag"],
    );
    assert_error(
        with(|e| e.platforms[0].provider = "Prd".into()),
        &[
            "platform YellowLive",
            "no service provider `Prd`",
            "did you mean `Prod`?",
        ],
    );
}

#[test]
fn credentials_are_usable_environment_prefixes_of_one_kind() {
    assert_error(
        with(|e| snapshot(e).credential = Credential::user_password("hr-reader")),
        &[
            "credential hr-reader",
            "cannot prefix an environment variable",
        ],
    );
    assert_error(
        with(|e| snapshot(e).credential = Credential::token("hr_reader")),
        &[
            "credential hr_reader",
            "is a token",
            "Credential::user_password(\"hr_reader\")",
        ],
    );
    assert_error(
        with(|e| {
            snapshot(e).credential = Credential::user_password("shared");
            e.providers[0].merge_credential = Credential::token("shared");
        }),
        &[
            "provider Prod › credential shared",
            "declared with two kinds",
        ],
    );
}

#[test]
fn one_database_name_means_one_database() {
    assert_error(
        with(|e| e.providers[0].merge_database.name = "HrDB".into()),
        &["database HrDB", "declared twice, differently"],
    );
    assert_error(
        with(|e| e.providers[0].merge_database.name = "hrdb".into()),
        &["databases `HrDB` and `hrdb` would both be overridden by DATASURFACE_DB_HRDB"],
    );
    // Reusing the same declaration is fine.
    assert!(errors(with(|e| e.providers[0].merge_database = source())).is_empty());
}

#[test]
fn physical_names_do_not_collide_in_a_merge_database() {
    // `Yellow` + store `Live_HR` and `Yellow_Live` + store `HR` share table names.
    let eco = with(|e| {
        let provider = e.providers[0].clone();
        e.platforms[0].name = "Yellow_Live".into();
        e.assignments[0].platform = "Yellow_Live".into();
        e.platforms.push(YellowPlatform::live("Yellow", &provider));
        let mut other = store(e).clone();
        other.name = "Live_HR".into();
        let sinks = DatasetGroup::new("Other", Retention::LiveOnly).sink_named("Live_HR", "jobs");
        e.zones[0].teams.push(
            Team::new("ops")
                .datastore(other)
                .workspace(Workspace::new("Ops").dsg(sinks)),
        );
        e.assignments
            .push(Assignment::new("Ops", "Other", "Yellow"));
    });
    let errors = errors(eco);
    let clashes: Vec<_> = errors
        .iter()
        .filter(|e| e.contains("would both be named"))
        .collect();
    assert!(
        clashes
            .iter()
            .any(|e| e.contains("`yellow_live_hr_jobs_merge`")),
        "{}",
        errors.join("\n")
    );
    assert!(
        clashes
            .iter()
            .any(|e| e.contains("`yellow_live_hr_jobs_staging`"))
    );
}

#[test]
fn long_names_are_fine_when_they_stay_distinct() {
    let long = "a_dataset_with_a_remarkably_long_and_descriptive_name";
    let eco = with(|e| {
        let ds = DatasetSchema {
            name: long.into(),
            ..jobs()
        };
        store(e).datasets.push(ds.clone());
        store(e).datasets.push(DatasetSchema {
            name: format!("{long}_2"),
            ..ds
        });
        workspace(e).dsgs[0] = workspace(e).dsgs[0]
            .clone()
            .sink_named("HR", long)
            .sink_named("HR", format!("{long}_2"));
    });
    assert_eq!(errors(eco), Vec::<String>::new());
}

#[test]
fn warnings_are_reported_but_do_not_fail() {
    let eco = with(|e| {
        store(e).datasets[1].classification = None;
        store(e).datasets[1].columns[0].classification = Some(Classification::Internal);
        workspace(e)
            .dsgs
            .push(DatasetGroup::new("Unused", Retention::LiveOnly));
        e.assignments[1].status = AssignmentStatus::Decommissioned;
    });
    let warnings = warnings(eco.clone());
    assert!(eco.validate().is_ok());
    let expect = [
        "dataset jobs: no classification for column(s) title",
        "dsg Unused: the dataset group has no sinks",
        "workspace Analytics › dsg Unused: the dataset group is not assigned to any platform",
        "workspace Analytics › dsg History: the dataset group is not assigned to any platform",
        "platform YellowForensic: no dataset group is assigned to this platform",
    ];
    for w in expect {
        assert!(
            warnings.iter().any(|x| x.contains(w)),
            "missing {w:?} in:\n{}",
            warnings.join("\n")
        );
    }
    assert_eq!(warnings.len(), expect.len(), "{}", warnings.join("\n"));
}

#[test]
fn a_decommissioned_assignment_takes_the_group_off_the_platform() {
    let eco = with(|e| e.assignments[1].status = AssignmentStatus::Decommissioned)
        .validate()
        .expect("valid");
    assert!(eco.model().ingested_datasets("YellowForensic").is_empty());
    assert_eq!(eco.model().active_assignments("YellowForensic").count(), 0);
}

#[test]
fn every_problem_is_reported_at_once() {
    let eco = with(|e| {
        snapshot(e).trigger = "every minute".into();
        e.providers[0].namespace = "Bad NS".into();
        workspace(e).dsgs[0].sinks[1].dataset = "job".into();
        e.assignments[0].platform = "YellowForensic".into();
    });
    let report = eco.validate().expect_err("invalid");
    assert_eq!(report.errors().count(), 4, "{report}");
    let text = report.to_string();
    // Moving LiveDSG off YellowLive also leaves that platform idle.
    assert!(text.ends_with("4 errors, 1 warning"), "{text}");
    assert!(text.contains("error: no dataset `job` in datastore HR\n  at ecosystem Corp › zone EU › team hr › workspace Analytics › dsg Current › sink HR.job\n  hint: did you mean `jobs`?"), "{text}");
}

#[test]
fn a_group_cannot_ask_for_fresher_data_than_its_store_is_captured() {
    use std::time::Duration;
    // HR is captured every 5 minutes: 4 minutes cannot be met.
    assert_error(
        with(|e| workspace(e).dsgs[0].latency = Some(Duration::from_secs(240))),
        &[
            "workspace Analytics › dsg Current",
            "asks for data at most 4m old, but datastore HR is captured on `*/5 * * * *`, up to 5m apart",
            "Duration::from_secs(300)",
        ],
    );
    assert_error(
        with(|e| workspace(e).dsgs[0].latency = Some(Duration::ZERO)),
        &["dsg Current", "latency of 0s"],
    );
    assert_error(
        with(|e| snapshot(e).trigger = "0 0 30 2 *".into()),
        &["capture sql snapshot", "never fires"],
    );
    let valid = with(|e| workspace(e).dsgs[0].latency = Some(Duration::from_secs(300)))
        .validate()
        .expect("exactly the capture's interval is allowed");
    let budgets = valid.budgets();
    let current = &valid.model().find_workspace("Analytics").unwrap().dsgs[0];
    assert_eq!(
        budgets.group("Analytics", current),
        Duration::from_secs(300)
    );
    // The default is twice the capture gap; a dataset takes its tightest consumer's.
    let history = &valid.model().find_workspace("Analytics").unwrap().dsgs[1];
    assert_eq!(
        budgets.group("Analytics", history),
        Duration::from_secs(600)
    );
    assert_eq!(budgets.dataset("HR", "people"), Duration::from_secs(300));
    assert_eq!(budgets.dataset("HR", "jobs"), Duration::from_secs(300));
    assert_eq!(budgets.capture_gap("HR"), Duration::from_secs(300));
}
