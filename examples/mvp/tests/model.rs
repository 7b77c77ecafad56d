//! The MVP model: what it declares, and how validation reports a broken copy of it.

use datasurface::*;
use mvp::{Address, Customer};
use std::process::Command;

fn run_cli(eco: Ecosystem, args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = datasurface::run(
        eco,
        std::iter::once("mvp").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

#[test]
fn the_binary_reports_the_model_valid() {
    let output = Command::new(env!("CARGO_BIN_EXE_mvp"))
        .arg("validate")
        .output()
        .expect("run mvp");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "model Test is valid: 1 zone, 1 team, 1 datastore (2 datasets), 1 workspace (2 dataset groups), \
         1 service provider, 2 platforms, 2 assignments\n"
    );
    assert!(
        output.stderr.is_empty(),
        "no warnings: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_datasets_have_the_columns_of_the_source_tables() {
    let describe = |schema: DatasetSchema| -> Vec<String> {
        schema
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}",
                    c.name,
                    c.data_type,
                    if c.nullable { "" } else { " not null" }
                )
            })
            .collect()
    };
    assert_eq!(
        describe(Customer::schema()),
        [
            "id varchar(20) not null",
            "firstname varchar(100) not null",
            "lastname varchar(100) not null",
            "dob date not null",
            "email varchar(100)",
            "phone varchar(100)",
            "primaryaddressid varchar(20)",
            "billingaddressid varchar(20)",
        ]
    );
    assert_eq!(
        describe(Address::schema()),
        [
            "id varchar(20) not null",
            "customerid varchar(20) not null",
            "streetname varchar(100) not null",
            "city varchar(100) not null",
            "state varchar(100) not null",
            "zipcode varchar(30) not null",
        ]
    );
    assert_eq!(Customer::KEY, ["id"]);
    assert_eq!(Address::KEY, ["id"]);
}

#[test]
fn the_model_declares_the_mvp_ecosystem() {
    let eco = mvp::ecosystem().validate().expect("valid");
    let store = eco.model().find_datastore("Store1").expect("Store1");
    let snap = store.sql_snapshot().expect("sql snapshot");
    assert_eq!(snap.database.name, "CustomerDB");
    assert_eq!(snap.database.database, "customer_db");
    assert_eq!(snap.trigger, "*/1 * * * *");
    assert_eq!(snap.consistency, Consistency::MultiDataset);
    assert_eq!(snap.credential, Credential::user_password("postgres"));
    let provider = eco.model().find_provider("Test_DP").expect("provider");
    assert_eq!(provider.namespace, "ns-kub-pg-test");
    assert_eq!(provider.merge_database.name, "MergeDB");
    assert_eq!(provider.merge_database.database, "datasurface_merge");
    assert_eq!(
        eco.model().find_platform("YellowLive").map(|p| p.mode),
        Some(PlatformMode::Live)
    );
    assert_eq!(
        eco.model().find_platform("YellowForensic").map(|p| p.mode),
        Some(PlatformMode::Forensic)
    );
    for platform in ["YellowLive", "YellowForensic"] {
        let tables: Vec<_> = eco
            .model()
            .ingested_datasets(platform)
            .iter()
            .map(|(s, d)| naming::merge_table(platform, &s.name, &d.name))
            .collect();
        let prefix = naming::sql_prefix(platform);
        assert_eq!(
            tables,
            [
                format!("{prefix}_store1_customers_merge"),
                format!("{prefix}_store1_addresses_merge")
            ]
        );
    }
}

#[test]
fn a_broken_copy_reports_every_error_with_its_path() {
    let mut eco = mvp::ecosystem();
    let team = &mut eco.zones[0].teams[0];
    // An unknown sink.
    team.workspaces[0].dsgs[0].sinks[0].dataset = "customer".into();
    // A second store called Store1.
    let copy = team.datastores[0].clone();
    team.datastores.push(copy);
    // A bad cron trigger.
    if let Some(Capture::SqlSnapshot(s)) = team.datastores[0].capture.as_mut() {
        s.trigger = "*/1 * * *".into();
    }
    // A bad namespace.
    eco.providers[0].namespace = "NS_Kub_PG_Test".into();
    // The live DSG on the forensic platform.
    eco.assignments[0].platform = "YellowForensic".into();

    let (code, out, err) = run_cli(eco, &["validate"]);
    assert_eq!(code, 1);
    assert_eq!(out, "model Test is not valid\n");
    let expected = [
        "error: invalid cron trigger: `*/1 * * *` has 4 fields; a cron trigger has 5 (minute hour day-of-month month day-of-week)\n  \
         at ecosystem Test › zone USA › team team1 › datastore Store1 › capture sql snapshot",
        "error: no dataset `customer` in datastore Store1\n  \
         at ecosystem Test › zone USA › team team1 › workspace Consumer1 › dsg LiveDSG › sink Store1.customer\n  \
         hint: did you mean `customers`?",
        "error: duplicate datastore `Store1`\n  \
         at ecosystem Test › zone USA › team team1 › datastore Store1\n  \
         hint: the first is at ecosystem Test › zone USA › team team1 › datastore Store1",
        "error: namespace `NS_Kub_PG_Test` is not an RFC 1123 label",
        "hint: did you mean `ns-kub-pg-test`?",
        "error: dataset group LiveDSG asks for LIVE_ONLY retention, but platform YellowForensic is forensic\n  \
         at ecosystem Test › assignment Consumer1.LiveDSG → YellowForensic\n  \
         hint: assign it to `YellowLive`",
    ];
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    assert!(err.contains("\n5 errors, "), "{err}");
}

#[test]
fn usage_errors_suggest_the_right_command() {
    let (code, _, err) = run_cli(mvp::ecosystem(), &["validat"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand 'validat'"), "{err}");
    assert!(
        err.contains("a similar subcommand exists: 'validate'"),
        "{err}"
    );
    let (code, out, _) = run_cli(mvp::ecosystem(), &["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: mvp [OPTIONS] <COMMAND>"), "{out}");
    // Out-of-range numbers are range errors, negative ones too.
    for (args, expected) in [
        (
            &[
                "run",
                "--platform",
                "YellowLive",
                "--store",
                "Store1",
                "--max-delete-percent",
                "-5",
            ][..],
            "-5 is not in 1..=100",
        ),
        (
            &["status", "--platform", "YellowLive", "--limit", "0"],
            "0 is not in 1..",
        ),
        (
            &[
                "reset-batch",
                "--platform",
                "YellowForensic",
                "--store",
                "Store1",
                "--to-batch",
                "-1",
            ],
            "-1 is not in 0..",
        ),
    ] {
        let (code, _, err) = run_cli(mvp::ecosystem(), args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
