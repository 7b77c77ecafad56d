//! What infra sets up on the source of a logically replicated store — each stream's
//! publication and slot, idempotently, and nothing left of a stream the model removed — and
//! what doctor, status and a run's report say about it.

mod common;

use common::*;
use datasurface::engine::{Check, Engine, Read, SlotLag, SourceAction, SourceChange};
use datasurface::*;

fn items() -> DatasetSchema {
    DatasetSchema::new("items")
        .column(Column::new("k", DataType::Text))
        .column(Column::nullable("a", DataType::Text))
        .key(["k"])
        .classified(Classification::Internal)
}

fn things() -> DatasetSchema {
    DatasetSchema::new("things")
        .column(Column::new("id", DataType::Integer))
        .key(["id"])
        .classified(Classification::Internal)
}

const DDL: &str = "CREATE TABLE items (k text PRIMARY KEY, a text); \
                   CREATE TABLE things (id integer PRIMARY KEY)";

/// A store `Repl` of `items` and `things` captured by logical replication: on both
/// platforms, or (`live: false`) on the forensic one only.
fn model(pg: &TestPg, source: &str, merge: &str, live: bool, user: &str) -> ValidEcosystem {
    ecosystem(pg, source, merge, live, user)
        .validate()
        .expect("valid model")
}

fn ecosystem(pg: &TestPg, source: &str, merge: &str, live: bool, user: &str) -> Ecosystem {
    let src = PostgresDatabase::new("SourceDB", source).at(&pg.host, pg.port);
    let repl = Datastore::new("Repl")
        .capture(LogicalReplication::new(
            src,
            Credential::user_password(user),
            "*/5 * * * *",
        ))
        .dataset_schema(items())
        .dataset_schema(things());
    let mut live_dsg = DatasetGroup::new("LiveDSG", Retention::LiveOnly);
    if live {
        live_dsg = live_dsg
            .sink_named("Repl", "items")
            .sink_named("Repl", "things");
    }
    let forensic = DatasetGroup::new("ForensicDSG", Retention::Forensic)
        .sink_named("Repl", "items")
        .sink_named("Repl", "things");
    platforms(pg, merge, vec![repl], live_dsg, forensic)
}

fn slot_name(platform: &str) -> String {
    slot(platform)
}

fn slot(platform: &str) -> String {
    naming::replication_slot("Test", platform, "Repl", None)
}

fn publication(platform: &str) -> String {
    naming::publication("Test", platform, "Repl", None)
}

fn change(action: SourceAction, name: String) -> SourceChange {
    SourceChange {
        database: "SourceDB".into(),
        action,
        name,
    }
}

/// The names of the source's slots and publications of the test ecosystem.
async fn on_source(s: &Scenario) -> (Vec<String>, Vec<String>) {
    let slots = text_rows(
        &s.source,
        "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'test\\_%' \
         AND database = current_database()",
    )
    .await;
    let publications = text_rows(&s.source, "SELECT pubname FROM pg_publication").await;
    (slots, publications)
}

#[tokio::test]
async fn infra_creates_each_streams_slot_and_publication_once_and_drops_a_removed_streams() {
    let s = Scenario::of(vec![items()]).source(DDL).start().await;
    let eco = model(&s.pg, &s.src_db, &s.merge_db, true, "src");

    // --plan says what it would do, and does nothing.
    let plan = infra(&eco, "YellowLive", true, &s.env).await.expect("plan");
    assert_eq!(
        plan.source,
        [
            change(SourceAction::CreatePublication, publication("YellowLive")),
            change(SourceAction::CreateSlot, slot("YellowLive")),
        ]
    );
    assert_eq!(on_source(&s).await, (vec![], vec![]));

    for platform in ["YellowLive", "YellowForensic"] {
        let done = infra(&eco, platform, false, &s.env).await.expect("infra");
        assert_eq!(done.source.len(), 2, "{platform}: {:?}", done.source);
    }
    let (slots, publications) = on_source(&s).await;
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert_eq!(publications.len(), 2, "{publications:?}");
    let published = text_rows(
        &s.source,
        &format!(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = '{}'",
            publication("YellowLive")
        ),
    )
    .await;
    assert_eq!(published, ["(items)", "(things)"]);

    // Idempotent: nothing more to do.
    for platform in ["YellowLive", "YellowForensic"] {
        let again = infra(&eco, platform, false, &s.env).await.expect("again");
        assert!(again.is_empty(), "{platform}: {again:?}");
    }

    // A publication whose tables were changed by hand gets the stream's back.
    s.change_source(&format!(
        "ALTER PUBLICATION {} DROP TABLE things",
        publication("YellowLive")
    ))
    .await;
    let set = infra(&eco, "YellowLive", false, &s.env).await.expect("set");
    assert_eq!(
        set.source,
        [change(
            SourceAction::SetPublicationTables,
            publication("YellowLive")
        )]
    );

    // Batches read from the slot infra created: a snapshot first, then the changes.
    s.change_source("INSERT INTO items VALUES ('a', 'x'); INSERT INTO things VALUES (1)")
        .await;
    let first = repl_batch(&eco, &s.env).await.expect("first batch");
    assert_eq!(first.metrics.inserted, 2);
    s.change_source("UPDATE items SET a = 'y'").await;
    let second = repl_batch(&eco, &s.env).await.expect("second batch");
    let records = history(&eco, "YellowLive", None, 1, &s.env)
        .await
        .expect("status");
    let capture = records[0].state.capture.as_ref().expect("capture state");
    assert_eq!(counts(&second), (0, 1, 0, 2), "{capture:?}");
    assert_eq!(capture.read, Read::Changes);

    // The live platform no longer ingests the store: its slot and publication go, the
    // forensic platform's stay.
    let fewer = model(&s.pg, &s.src_db, &s.merge_db, false, "src");
    let plan = infra(&fewer, "YellowLive", true, &s.env)
        .await
        .expect("plan");
    assert_eq!(
        plan.source,
        [
            change(SourceAction::DropSlot, slot("YellowLive")),
            change(SourceAction::DropPublication, publication("YellowLive")),
        ]
    );
    assert_eq!(on_source(&s).await.0.len(), 2);
    infra(&fewer, "YellowLive", false, &s.env)
        .await
        .expect("drop");
    assert_eq!(
        on_source(&s).await,
        (
            vec![format!("({})", slot("YellowForensic"))],
            vec![format!("({})", publication("YellowForensic"))]
        )
    );
    assert!(
        infra(&fewer, "YellowLive", false, &s.env)
            .await
            .expect("again")
            .is_empty()
    );
    assert!(
        infra(&fewer, "YellowForensic", false, &s.env)
            .await
            .expect("forensic")
            .is_empty()
    );
    drop_slots(&s).await;
}

/// Drops the test's slots: a slot keeps the server's log until it goes.
async fn drop_slots(s: &Scenario) {
    s.change_source(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
         WHERE database = current_database()",
    )
    .await;
}

fn check<'a>(checks: &'a [Check], subject: &str, check: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.subject == subject && c.check == check)
        .unwrap_or_else(|| panic!("no check {check} of {subject}: {checks:#?}"))
}

#[tokio::test]
async fn doctor_checks_what_replication_needs_and_says_how_to_fix_it() {
    let s = Scenario::of(vec![items()]).source(DDL).start().await;
    let eco = model(&s.pg, &s.src_db, &s.merge_db, true, "src");
    let live = "stream YellowLive Repl";

    // Before infra: no publication, no slot.
    let checks = engine(&eco, &s.env).doctor().await;
    for name in ["publication", "replication slot"] {
        let c = check(&checks, live, name);
        assert!(!c.ok, "{c:?}");
        assert_eq!(c.fix.as_deref(), Some("run infra --platform YellowLive"));
    }
    let slots = check(&checks, "database SourceDB", "replication slots");
    assert!(
        slots.ok && slots.detail.contains("2 to create"),
        "{slots:?}"
    );

    for platform in ["YellowLive", "YellowForensic"] {
        infra(&eco, platform, false, &s.env).await.expect("infra");
    }
    let checks = engine(&eco, &s.env).doctor().await;
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    for (subject, name) in [
        ("database SourceDB", "wal_level"),
        ("database SourceDB", "replication role"),
        ("source table public.items", "replica identity"),
        ("source table public.things", "replica identity"),
        (live, "publication"),
    ] {
        assert!(check(&checks, subject, name).ok, "{subject} {name}");
    }
    let slot = check(&checks, live, "replication slot");
    assert!(
        slot.detail.contains("behind") && slot.detail.contains("wal_status reserved"),
        "{slot:?}"
    );
    // Once a batch moved the slot on, its age is known too.
    for _ in 0..2 {
        repl_batch(&eco, &s.env).await.expect("batch");
    }
    let checks = engine(&eco, &s.env).doctor().await;
    let slot = check(&checks, live, "replication slot");
    assert!(
        slot.ok && slot.detail.contains("s since its changes were current"),
        "{slot:?}"
    );
    // The throwaway server keeps the log for slots without limit: a warning, with its fix.
    let limit = check(&checks, "database SourceDB", "slot WAL limit");
    assert!(limit.ok);
    if limit.detail.contains("unlimited") {
        assert!(limit.warning);
        assert!(
            limit
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("max_slot_wal_keep_size"))
        );
    }

    // A table whose changes carry no key.
    s.change_source("ALTER TABLE things REPLICA IDENTITY NOTHING")
        .await;
    let checks = engine(&eco, &s.env).doctor().await;
    let identity = check(&checks, "source table public.things", "replica identity");
    assert!(!identity.ok, "{identity:?}");
    assert!(
        identity.fix.as_deref().is_some_and(
            |f| f.starts_with("ALTER TABLE \"public\".\"things\" REPLICA IDENTITY FULL")
        ),
        "{identity:?}"
    );
    // A primary key that does not hold the model's key does not do either; an index
    // that does, does.
    s.change_source(
        "ALTER TABLE things ADD COLUMN other integer; CREATE UNIQUE INDEX things_id ON things (id); \
         ALTER TABLE things REPLICA IDENTITY USING INDEX things_id",
    )
    .await;
    let checks = engine(&eco, &s.env).doctor().await;
    assert!(check(&checks, "source table public.things", "replica identity").ok);

    // A login without the REPLICATION attribute.
    s.change_source("CREATE ROLE norepl LOGIN; GRANT SELECT ON items, things TO norepl")
        .await;
    let norepl = model(&s.pg, &s.src_db, &s.merge_db, true, "norepl");
    let env = s.env.clone().set("norepl_USER", "norepl");
    let checks = engine(&norepl, &env).doctor().await;
    let role = check(&checks, "database SourceDB", "replication role");
    assert!(!role.ok, "{role:?}");
    assert_eq!(role.fix.as_deref(), Some("ALTER ROLE norepl REPLICATION"));
    s.change_source("ALTER ROLE norepl REPLICATION").await;
    let checks = engine(&norepl, &env).doctor().await;
    assert!(check(&checks, "database SourceDB", "replication role").ok);
    drop_slots(&s).await;
}

/// A merge server whose checkpoints come from the log reaching `max_wal_size` rather than
/// from the clock makes every batch write whole pages into the log: doctor warns, and says
/// what to set.
#[tokio::test]
async fn doctor_warns_when_the_merge_servers_checkpoints_are_not_timed() {
    let s = Scenario::of(vec![items()]).source(DDL).start().await;
    let eco = model(&s.pg, &s.src_db, &s.merge_db, true, "src");
    const MERGE: &str = "database MergeDB";
    s.merge
        .batch_execute("SELECT pg_stat_reset_shared('bgwriter')")
        .await
        .expect("reset the counts");
    let checks = engine(&eco, &s.env).doctor().await;
    let c = check(&checks, MERGE, "checkpoints");
    assert!(
        c.ok && !c.warning
            && c.detail.contains("0 requested")
            && c.detail.contains("max_wal_size 1GB"),
        "{c:?}"
    );

    // Requested checkpoints (a CHECKPOINT command is one too) outnumber the timed ones; the
    // checkpointer reports its counts after the command returns, so they are read back.
    for _ in 0..50 {
        let row = s
            .merge
            .query_one(
                "SELECT checkpoints_req >= 3 AND checkpoints_req > checkpoints_timed FROM pg_stat_bgwriter",
                &[],
            )
            .await
            .expect("the counts");
        if row.get::<_, bool>(0) {
            break;
        }
        s.merge
            .batch_execute("CHECKPOINT")
            .await
            .expect("checkpoint");
    }
    let checks = engine(&eco, &s.env).doctor().await;
    let c = check(&checks, MERGE, "checkpoints");
    assert!(c.ok && c.warning, "{c:?}");
    assert!(c.detail.contains("were requested"), "{c:?}");
    assert!(
        c.fix
            .as_deref()
            .is_some_and(|f| f.starts_with("ALTER SYSTEM SET max_wal_size = '4GB'")),
        "{c:?}"
    );
    // A source database is not a merge database: it is not checked.
    assert!(
        !checks
            .iter()
            .any(|c| c.subject == "database SourceDB" && c.check == "checkpoints")
    );
}

#[tokio::test]
async fn status_and_a_runs_outcome_read_the_slots_lag() {
    let s = Scenario::of(vec![items()]).source(DDL).start().await;
    let eco = model(&s.pg, &s.src_db, &s.merge_db, true, "src");
    infra(&eco, "YellowLive", false, &s.env)
        .await
        .expect("infra");
    let lags = engine(&eco, &s.env)
        .slots(eco.platform("YellowLive").expect("platform"), None)
        .await;
    assert_eq!(lags.len(), 1, "{lags:?}");
    let lag: &SlotLag = &lags[0];
    assert_eq!((lag.stream.as_str(), lag.exists), ("Repl", true));
    assert_eq!(lag.wal_status.as_deref(), Some("reserved"));
    assert!(lag.lag_bytes.is_some_and(|n| n >= 0) && lag.retained_bytes.is_some());
    assert_eq!(lag.error, None);

    s.change_source("INSERT INTO items VALUES ('a', 'x')").await;
    let first = repl_batch(&eco, &s.env).await.expect("batch");
    let slot = first.slot.expect("the slot after the batch");
    assert_eq!(slot.slot, slot_name("YellowLive"));
    assert!(slot.exists && slot.lag_bytes.is_some());

    // A batch of changes moves the slot on to its bound: the slot is as old as the batch.
    s.change_source("INSERT INTO items VALUES ('b', 'y')").await;
    let second = repl_batch(&eco, &s.env).await.expect("batch");
    let age = second.slot.and_then(|s| s.lag_seconds);
    assert!(age.is_some_and(|a| (0.0..60.0).contains(&a)), "{age:?}");

    // The rendering of the lag (status, --json, --report, the metrics file) is checked
    // in the command line's own tests.
    let lags = engine(&eco, &s.env)
        .slots(
            eco.platform("YellowLive").expect("platform"),
            Some(eco.store("Repl").expect("store")),
        )
        .await;
    assert_eq!(lags[0].lag_bytes, lags[0].lag_bytes.map(|n| n.max(0)));
    assert!(lags[0].lag_seconds.is_some_and(|a| a >= 0.0), "{lags:?}");
    drop_slots(&s).await;
}

/// A batch of stream `Repl` on YellowLive.
async fn repl_batch(
    eco: &ValidEcosystem,
    env: &pg::Environment,
) -> Result<datasurface::engine::Outcome, datasurface::engine::Error> {
    run_batch(eco, "YellowLive", "Repl", None, &Default::default(), env).await
}

fn engine<'a>(eco: &'a ValidEcosystem, env: &'a pg::Environment) -> Engine<'a> {
    Engine::new(eco, env)
}
