//! The console against a real merge database with real batches: the pages say what the
//! batch tables hold, escape what the model says, point a mistyped name at the near miss,
//! and say so when the database cannot be read; `/metrics` speaks Prometheus.

mod common;

use common::*;
use datasurface::console::Console;
use datasurface::console::server::{Body, Router};
use datasurface::naming::{self, ViewKind};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

/// A GET of `path` from the console's router, without a socket: its status and body.
async fn get(router: &Router, path: &str) -> (u16, String) {
    let (status, _, body) = get_with(router, path, &[]).await;
    (status, String::from_utf8(body).expect("UTF-8"))
}

/// A GET of `path` with `headers`: its status, headers and body.
async fn get_with(
    router: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, Vec<u8>) {
    let mut request = http::Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).expect("a request");
    let response = router.clone().oneshot(request).await.expect("a response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    (status, headers, body.to_vec())
}

const SCRIPT: &str = "<script>alert('people')</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_metrics_show_the_batches_of_the_merge_database() {
    let described = people().described(format!("Everyone we employ {SCRIPT}"));
    let s = Scenario::of(vec![described])
        .source(PEOPLE_DDL)
        .start()
        .await;
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");
    s.batch("YellowForensic").await.expect("forensic batch");
    // The next forensic batch fails in its merge and stays open with its error.
    s.change_source("DELETE FROM people WHERE id = 3").await;
    s.batch_with_merge_blocked("YellowForensic").await;
    // The live one commits it: a batch that read its changes, then merged them.
    s.batch("YellowLive").await.expect("second live batch");

    let console = Console::new(Arc::new(s.eco.clone()), s.env.clone(), "mvp");
    console.refresh().await;
    let router = console.router();

    let (status, page) = get(&router, "/datasets/Store1/people").await;
    assert_eq!(status, 200, "{page}");
    // The description is shown as text, never as markup.
    assert!(
        page.contains("&#60;script&#62;alert(&#39;people&#39;)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains(SCRIPT));
    for column in ["firstName", "lastName", "dob", "employer"] {
        assert!(page.contains(&format!("<code>{column}</code>")), "{column}");
    }
    assert!(page.contains("personal"));
    let view = naming::view_name(
        "YellowLive",
        "WS",
        "LiveDSG",
        "Store1",
        "people",
        ViewKind::Live,
    );
    assert!(page.contains(&view), "the view to query: {view}");
    // Committed just now, within the default budget of 10 minutes.
    assert!(page.contains("YellowLive: fresh"), "{page}");
    assert!(page.contains("YellowForensic: fresh"), "{page}");
    assert!(page.contains("Freshness budget <strong>10m</strong>"));
    assert!(page.contains("Batch 2 failed."), "{page}");
    assert!(page.contains("mvp reset-batch --platform YellowForensic --store Store1"));
    assert!(page.contains("<svg class=\"lineage\""));
    assert!(page.contains("<svg class=\"trend\""));
    // How long each batch's phases took: the first load only merges.
    assert!(page.contains(" · merge "), "{page}");
    assert!(page.contains("<td>read "), "{page}");

    let (status, page) = get(&router, "/datasets/Store1/peeple").await;
    assert_eq!(status, 404);
    assert!(
        page.contains(r#"Did you mean <a href="/datasets/Store1/people">Store1.people</a>?"#),
        "{page}"
    );
    let (status, page) = get(&router, "/stores/Stor1").await;
    assert_eq!(status, 404);
    assert!(page.contains(r#"href="/stores/Store1""#), "{page}");

    let (_, page) = get(&router, "/workspaces/WS").await;
    assert!(
        page.contains("This workspace reads personal data."),
        "{page}"
    );
    let (_, page) = get(&router, "/").await;
    assert!(page.contains("fresh: 2"), "{page}");
    assert!(page.contains("batch 2 failed"), "{page}");
    let (status, page) = get(&router, "/search?q=peo").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<a href="/datasets/Store1/people">Store1.people</a>"#),
        "{page}"
    );
    // Inside a label, in any case; once per entry however often it matches; a query of
    // two lines finds nothing.
    let (_, page) = get(&router, "/search?q=EOPL").await;
    assert_eq!(
        page.matches(r#"<a href="/datasets/Store1/people">"#)
            .count(),
        1,
        "{page}"
    );
    let (_, page) = get(&router, "/search?q=peo%0Aple").await;
    assert!(!page.contains(r#"<a href="/datasets/"#), "{page}");
    for path in [
        "/stores/Store1",
        "/platforms/YellowLive",
        "/zones/Z",
        "/teams/Z/t",
    ] {
        let (status, page) = get(&router, path).await;
        assert_eq!(status, 200, "{path}: {page}");
    }
    assert_eq!(get(&router, "/healthz").await, (200, "ok\n".into()));

    let (status, text) = get(&router, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"datasurface_merge_database_up{platform="YellowLive"} 1"#,
        r#"datasurface_dataset_freshness_budget_seconds{platform="YellowLive",stream="Store1",store="Store1",dataset="people"} 600"#,
        r#"datasurface_dataset_last_batch_records{platform="YellowLive",stream="Store1",store="Store1",dataset="people",kind="deleted"} 1"#,
        r#"datasurface_stream_last_batch_records{platform="YellowLive",stream="Store1",kind="total"} 2"#,
        r#"datasurface_stream_status{platform="YellowLive",stream="Store1",status="committed"} 1"#,
        r#"datasurface_stream_failing{platform="YellowLive",stream="Store1"} 0"#,
        r#"datasurface_stream_failing{platform="YellowForensic",stream="Store1"} 1"#,
        r#"datasurface_stream_capture_gap_seconds{platform="YellowLive",stream="Store1"} 300"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    for phase in ["read", "merge"] {
        let sample = format!(
            r#"datasurface_stream_last_batch_phase_seconds{{platform="YellowLive",stream="Store1",phase="{phase}"}} "#
        );
        assert!(text.contains(&sample), "{sample} in\n{text}");
    }
    assert!(text.contains(r#"datasurface_dataset_last_success_timestamp_seconds{platform="YellowLive",stream="Store1",store="Store1",dataset="people"} "#));
    check_metrics(&text);

    // As Prometheus asks for it: gzipped, the same text.
    let (_, headers, body) = get_with(&router, "/metrics", &[("accept-encoding", "gzip")]).await;
    assert_eq!(headers["content-encoding"], "gzip");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_merge_database_is_reported_not_fatal() {
    let s = Scenario::people().start().await;
    // Nothing listens on port 1.
    let env = s
        .env
        .clone()
        .set("DATASURFACE_DB_MERGEDB", "postgres://127.0.0.1:1/nowhere");
    let console = Console::new(Arc::new(s.eco.clone()), env, "mvp");
    console.refresh().await;
    let router = console.router();
    let (status, page) = get(&router, "/datasets/Store1/people").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("The merge database could not be read: cannot connect to database MergeDB"),
        "{page}"
    );
    assert!(page.contains("YellowLive: unknown"), "{page}");
    let (_, text) = get(&router, "/metrics").await;
    assert!(
        text.contains(r#"datasurface_merge_database_up{platform="YellowLive"} 0"#),
        "{text}"
    );
    // The budget still comes from the model.
    assert!(
        text.contains("datasurface_dataset_freshness_budget_seconds{"),
        "{text}"
    );
    check_metrics(&text);
}

/// `promtool check metrics` on the exposition, where the test machine has promtool.
fn check_metrics(text: &str) {
    let Ok(promtool) = std::env::var("DATASURFACE_PROMTOOL") else {
        eprintln!("DATASURFACE_PROMTOOL is not set: the exposition is not linted");
        return;
    };
    use std::io::Write;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_with_a_login_that_may_read_only_the_batch_tables() {
    let s = Scenario::people().start().await;
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");
    s.batch("YellowForensic").await.expect("forensic batch");
    let mut model = s.ecosystem(vec![people()]);
    model.providers[0].console_credential = Some(datasurface::Credential::user_password("console"));
    let eco = model.validate().expect("valid");
    // The generated grants, then a login in their role.
    let provider = &eco.model().providers[0];
    s.merge
        .batch_execute(&datasurface::codegen::observe::login::sql(&eco, provider))
        .await
        .expect("console-login.sql");
    s.merge
        .batch_execute("CREATE ROLE console_reader LOGIN IN ROLE datasurface_console")
        .await
        .expect("the login");

    let env = s.env.clone().set("console_USER", "console_reader");
    let console = Console::new(Arc::new(eco), env, "mvp");
    console.refresh().await;
    let (_, page) = get(&console.router(), "/datasets/Store1/people").await;
    assert!(page.contains("YellowLive: fresh"), "{page}");
    assert!(page.contains("YellowForensic: fresh"), "{page}");

    // The same login cannot read a row of data.
    let url = format!(
        "postgres://console_reader@{}:{}/{}",
        s.pg.host, s.pg.port, s.merge_db
    );
    let (reader, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect as the console");
    tokio::spawn(conn);
    let table = naming::merge_table("YellowLive", "Store1", "people");
    let denied = reader
        .simple_query(&format!("SELECT * FROM {table}"))
        .await
        .expect_err("the merge table is not the console's to read");
    assert_eq!(
        denied.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{denied:?}"
    );
}
