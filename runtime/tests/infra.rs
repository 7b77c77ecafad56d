//! `infra` on real PostgreSQL: creation, idempotency, evolution, refusals, views.

mod common;

use common::*;
use datasurface::engine::Error;
use datasurface::naming::{ViewKind, quote_ident};
use datasurface::*;

/// The view of `kind` of the people dataset that the test model's workspace `WS` sees
/// through its group on `platform`.
fn people_view(platform: &str, kind: ViewKind) -> String {
    let dsg = match platform {
        "YellowLive" => "LiveDSG",
        _ => "ForensicDSG",
    };
    naming::view_name(platform, "WS", dsg, "Store1", "people", kind)
}

/// Every column of every table and view of the merge database, and every view's text:
/// what must not move when a change is refused.
async fn catalog(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT c.relname || ' ' || c.relkind::text || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             || ' ' || a.attnotnull || ' ' || coalesce(pg_get_viewdef(c.oid), '') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1",
            &[],
        )
        .await
        .expect("catalog")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The definitions of the indexes of `table`, by name.
async fn indexes(client: &tokio_postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
            &[&table],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn people_with_nickname() -> DatasetSchema {
    people().column(Column::nullable("nickname", DataType::Varchar(30)))
}

fn pets() -> DatasetSchema {
    DatasetSchema::new("pets")
        .column(Column::new("id", DataType::Integer))
        .column(Column::nullable("name", DataType::Text))
        .key(["id"])
        .classified(Classification::Public)
}

#[tokio::test(flavor = "current_thread")]
async fn infra_creates_once_evolves_safely_and_keeps_history() {
    let t = Scenario::of(vec![people()]).start().await;
    let (eco, env, merge) = (&t.eco, &t.env, &t.merge);
    let live_view = people_view("YellowLive", ViewKind::Live);
    let forensic_live_view = people_view("YellowForensic", ViewKind::Live);
    let forensic_full_view = people_view("YellowForensic", ViewKind::Full);
    let forensic_merge = naming::merge_table("YellowForensic", "Store1", "people");

    // A plan changes nothing; the first run creates everything; the second does nothing.
    let plan = infra(eco, "YellowForensic", true, env).await.expect("plan");
    assert!(plan.statements.iter().any(|s| {
        s.sql()
            .contains(&format!("CREATE VIEW {}", quote_ident(&forensic_full_view)))
    }));
    assert!(catalog(merge).await.is_empty());
    for platform in ["YellowLive", "YellowForensic"] {
        let created = infra(eco, platform, false, env).await.expect("create");
        assert!(!created.statements.is_empty());
        let again = infra(eco, platform, false, env).await.expect("again");
        assert_eq!(
            again.statements,
            [],
            "{platform}: a second run executes no DDL"
        );
    }

    // A few batches; the views show exactly the rows they should.
    t.change_source(PEOPLE_DDL).await;
    t.change_source(
        "INSERT INTO people VALUES (1, 'billy', 'N', '1970-01-01', 'Acme', NULL), (2, 'laura', 'D', '1975-02-02', NULL, NULL)",
    )
    .await;
    let runs = || async {
        for platform in ["YellowLive", "YellowForensic"] {
            t.batch(platform).await.expect(platform);
        }
    };
    runs().await;
    t.change_source(r#"UPDATE people SET "firstName" = 'william' WHERE id = 1; DELETE FROM people WHERE id = 2"#).await;
    runs().await;
    let current = ["(1,william,N,1970-01-01,Acme,)"];
    assert_eq!(
        text_rows(merge, &format!("SELECT * FROM {live_view}")).await,
        current
    );
    assert_eq!(
        text_rows(merge, &format!("SELECT * FROM {forensic_live_view}")).await,
        current
    );
    assert_eq!(
        text_rows(merge, &format!("SELECT * FROM {forensic_full_view}")).await,
        [
            "(1,billy,N,1970-01-01,Acme,,1,1)",
            "(1,william,N,1970-01-01,Acme,,2,2147483647)",
            "(2,laura,D,1975-02-02,,,1,1)",
        ]
    );
    // An integer key sorts as batches compare keys: the live table's primary key holds the
    // row hash, and is its only index; the forensic table keeps its order index apart.
    let live_merge = naming::merge_table("YellowLive", "Store1", "people");
    let live_indexes = indexes(merge, &live_merge).await;
    assert_eq!(live_indexes.len(), 1, "{live_indexes:?}");
    assert!(
        live_indexes[0].ends_with("USING btree (id) INCLUDE (ds_surf_all_hash)"),
        "{live_indexes:?}"
    );
    let forensic_indexes = indexes(merge, &forensic_merge).await;
    assert_eq!(forensic_indexes.len(), 2, "{forensic_indexes:?}");
    assert!(
        forensic_indexes
            .iter()
            .any(|i| i.contains("INCLUDE (ds_surf_all_hash) WHERE")),
        "{forensic_indexes:?}"
    );
    let history = format!(
        "SELECT id, \"firstName\", ds_surf_batch_in, ds_surf_batch_out, ds_surf_all_hash FROM {forensic_merge}"
    );
    let history_before = text_rows(merge, &history).await;

    // Evolve: a nullable column and a new dataset.
    let eco2 = t.model(vec![people_with_nickname(), pets()]);
    let plan = infra(&eco2, "YellowForensic", true, env)
        .await
        .expect("plan the evolution");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!(
        "{}/../snapshots/evolution",
        env!("CARGO_MANIFEST_DIR")
    ));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_snapshot!(
            "yellowforensic_people_adds_nickname_and_pets",
            plan.statements
                .iter()
                .map(|s| format!("{s};\n"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let first_lines: Vec<&str> = plan
        .statements
        .iter()
        .filter_map(|s| s.sql().lines().nth(1))
        .collect();
    let forensic_staging = naming::staging_table("YellowForensic", "Store1", "people");
    let pets_merge = naming::merge_table("YellowForensic", "Store1", "pets");
    for expected in [
        format!(
            "ALTER TABLE {} ADD COLUMN \"nickname\" character varying(30)",
            quote_ident(&forensic_staging)
        ),
        format!(
            "ALTER TABLE {} ADD COLUMN \"nickname\" character varying(30)",
            quote_ident(&forensic_merge)
        ),
        format!("DROP VIEW IF EXISTS {}", quote_ident(&forensic_full_view)),
        format!("CREATE TABLE IF NOT EXISTS {} (", quote_ident(&pets_merge)),
    ] {
        assert!(
            first_lines.contains(&expected.as_str()),
            "missing {expected:?} in {first_lines:#?}"
        );
    }
    for platform in ["YellowLive", "YellowForensic"] {
        infra(&eco2, platform, false, env).await.expect("evolve");
        assert!(
            infra(&eco2, platform, false, env)
                .await
                .expect("again")
                .statements
                .is_empty()
        );
    }
    assert_eq!(
        text_rows(merge, &history).await,
        history_before,
        "old versions are untouched"
    );
    assert_eq!(
        text_rows(merge, &format!("SELECT nickname FROM {forensic_full_view}")).await,
        ["(\"\")", "(\"\")", "(\"\")"].map(|_| "()".to_owned()),
        "old versions show NULL in the new column"
    );

    // The source gains the column and the table; the next batch fills the column, and
    // only the rows whose value is new are new versions.
    t.change_source(
        "ALTER TABLE people ADD COLUMN nickname varchar(30); CREATE TABLE pets (id integer PRIMARY KEY, name text); \
         INSERT INTO people VALUES (3, 'sam', 'S', '1980-03-03', NULL, NULL, 'sammy'); INSERT INTO pets VALUES (1, 'rex')",
    )
    .await;
    let b = one_batch(&eco2, "YellowForensic", None, env)
        .await
        .expect("batch 3");
    assert_eq!(
        (b.batch, counts(&b)),
        (3, (2, 0, 0, 3)),
        "william unchanged; sam and rex new"
    );
    let b = one_batch(&eco2, "YellowLive", None, env)
        .await
        .expect("live batch 3");
    assert_eq!(counts(&b), (2, 0, 0, 3));
    t.change_source("UPDATE people SET nickname = 'will' WHERE id = 1")
        .await;
    let b = one_batch(&eco2, "YellowForensic", None, env)
        .await
        .expect("batch 4");
    assert_eq!(counts(&b), (0, 1, 0, 3));
    assert_eq!(
        text_rows(merge, &format!("SELECT id, nickname, ds_surf_batch_in, ds_surf_batch_out FROM {forensic_full_view} WHERE id = 1")).await,
        ["(1,,1,1)", "(1,,2,3)", "(1,will,4,2147483647)"]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn refused_changes_leave_the_database_as_it_was() {
    let t = Scenario::of(vec![people()]).start().await;
    let (env, merge) = (&t.env, &t.merge);
    for platform in ["YellowLive", "YellowForensic"] {
        infra(&t.eco, platform, false, env).await.expect("create");
    }
    let before = catalog(merge).await;

    let mut dropped = people();
    dropped.columns.retain(|c| c.name != "employer");
    let mut narrowed = people();
    narrowed.columns[1].data_type = DataType::Varchar(10);
    let mut rekeyed = people();
    rekeyed.primary_key = vec!["id".into(), "dob".into()];
    let not_null_added = people().column(Column::new("badge", DataType::Integer));
    let mut retyped = people();
    retyped.columns[0].data_type = DataType::BigInt;
    for (model_change, expected) in [
        (
            dropped,
            "column employer: the model no longer has it, and infra never drops a column",
        ),
        (
            narrowed,
            "column firstName: the table has character varying(50), the model says varchar(10); that narrows",
        ),
        (rekeyed, "but the model's key makes it (id, dob"),
        (
            not_null_added,
            "column badge: the model adds it as NOT NULL",
        ),
        (
            retyped,
            "column id: the table has integer, the model says bigint",
        ),
    ] {
        let eco2 = t.model(vec![model_change]);
        for platform in ["YellowLive", "YellowForensic"] {
            let err = infra(&eco2, platform, false, env)
                .await
                .expect_err("refused");
            assert!(matches!(err, Error::Refused(_)));
            assert!(
                err.to_string().contains(expected),
                "{platform}: missing {expected:?} in {err}"
            );
            // run refuses the same way.
            let err = one_batch(&eco2, platform, None, env)
                .await
                .expect_err("run refuses too");
            assert!(err.to_string().contains(expected), "{err}");
        }
        assert_eq!(catalog(merge).await, before, "{expected}");
    }
    // Widening is fine, and the views are recreated around it.
    let mut widened = people();
    widened.columns[1].data_type = DataType::Varchar(80);
    let eco3 = t.model(vec![widened]);
    let done = infra(&eco3, "YellowForensic", false, env)
        .await
        .expect("widen");
    assert!(done.statements.iter().any(|s| {
        s.sql()
            .contains("ALTER COLUMN \"firstName\" TYPE character varying(80)")
    }));
    let forensic_full_view = people_view("YellowForensic", ViewKind::Full);
    let types: Vec<String> = text_rows(
        merge,
        &format!("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{forensic_full_view}'::regclass AND attname = 'firstName'"),
    )
    .await;
    assert_eq!(types, ["(\"character varying(80)\")"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_decommissioned_groups_views_go_and_its_tables_stay() {
    let t = Scenario::of(vec![people()]).start().await;
    let env = &t.env;
    infra(&t.eco, "YellowForensic", false, env)
        .await
        .expect("create");
    let mut decommissioned = t.ecosystem(vec![people()]);
    decommissioned.assignments[1].status = AssignmentStatus::Decommissioned;
    let eco2 = decommissioned.validate().expect("valid");
    let done = infra(&eco2, "YellowForensic", false, env)
        .await
        .expect("decommission");
    assert_eq!(done.statements.len(), 2, "{:#?}", done.statements);
    let relations = text_rows(
        &t.merge,
        &format!(
            "SELECT relname::text FROM pg_class WHERE relname LIKE '{}%' AND relkind IN ('r', 'v')",
            naming::sql_prefix("YellowForensic")
        ),
    )
    .await;
    assert!(
        relations.iter().all(|r| !r.contains("_view_")),
        "{relations:?}"
    );
    assert!(
        relations.iter().any(|r| r.contains(&naming::merge_table(
            "YellowForensic",
            "Store1",
            "people"
        ))),
        "{relations:?}"
    );
    assert!(
        infra(&eco2, "YellowForensic", false, env)
            .await
            .expect("again")
            .statements
            .is_empty()
    );
}
