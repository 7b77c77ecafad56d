//! With `OPENLINEAGE_URL` set, each batch sends OpenLineage run events — START, then
//! COMPLETE with each merge table's counts or FAIL with the error — to a real HTTP receiver
//! started here. The OpenLineage JSON schema cannot be fetched on this machine, so its
//! required fields (RunEvent 2-0-2: eventTime, producer, schemaURL, run.runId as a UUID,
//! job.namespace and job.name, each dataset's namespace and name, each facet's `_producer`
//! and `_schemaURL`) are checked by typed structs that refuse an event without them.

mod common;

use common::*;
use datasurface::engine::{
    OPENLINEAGE_PRODUCER, OPENLINEAGE_ROOT_CERT, OPENLINEAGE_SCHEMA_URL, OPENLINEAGE_URL,
};
use datasurface::serde_json::{Map, Value};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, PartialEq)]
enum EventType {
    #[serde(rename = "START")]
    Start,
    #[serde(rename = "COMPLETE")]
    Complete,
    #[serde(rename = "FAIL")]
    Fail,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunEvent {
    event_type: EventType,
    event_time: datasurface::chrono::DateTime<datasurface::chrono::FixedOffset>,
    run: Run,
    job: Job,
    inputs: Vec<Dataset>,
    outputs: Vec<Dataset>,
    producer: String,
    #[serde(rename = "schemaURL")]
    schema_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    run_id: String,
    #[serde(default)]
    facets: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Job {
    namespace: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dataset {
    namespace: String,
    name: String,
    #[serde(default)]
    output_facets: Map<String, Value>,
}

/// Every facet carries `_producer` and `_schemaURL`, as the spec's base facet requires.
fn check_facets(facets: &Map<String, Value>) {
    for (name, facet) in facets {
        for field in ["_producer", "_schemaURL"] {
            assert!(
                facet[field].is_string(),
                "facet {name} has no {field}: {facet}"
            );
        }
    }
}

/// Reads one event as the spec requires it to be.
fn event(body: &str) -> RunEvent {
    let e: RunEvent = datasurface::serde_json::from_str(body).expect("a RunEvent");
    let uuid = e.run.run_id.split('-').map(str::len).collect::<Vec<_>>();
    assert_eq!(
        uuid,
        vec![8, 4, 4, 4, 12],
        "runId is a UUID: {}",
        e.run.run_id
    );
    assert!(e.producer.starts_with("https://") && e.producer == OPENLINEAGE_PRODUCER);
    assert_eq!(e.schema_url, OPENLINEAGE_SCHEMA_URL);
    assert!(!e.job.namespace.is_empty() && !e.job.name.is_empty());
    check_facets(&e.run.facets);
    for d in e.inputs.iter().chain(&e.outputs) {
        assert!(d.namespace.starts_with("postgres://") && !d.name.is_empty());
        check_facets(&d.output_facets);
    }
    e
}

/// A small HTTP receiver: every POST's path and body, answered 201 — over TLS when given
/// the acceptor.
async fn receiver(
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<(String, String)>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let received = match &tls {
                Some(tls) => match tls.accept(conn).await {
                    Ok(conn) => answer(conn).await,
                    // A client that refused the certificate.
                    Err(_) => continue,
                },
                None => answer(conn).await,
            };
            let _ = tx.send(received);
        }
    });
    (addr, rx)
}

/// Reads one POST from `conn` and answers 201: its path and body.
async fn answer(
    mut conn: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, body_start) = loop {
        let n = conn.read(&mut buf).await.expect("read");
        assert!(n > 0, "the request ended early");
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break (String::from_utf8_lossy(&data[..i]).into_owned(), i + 4);
        }
    };
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .expect("a Content-Length");
    while data.len() < body_start + length {
        let n = conn.read(&mut buf).await.expect("read");
        data.extend_from_slice(&buf[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let body = String::from_utf8_lossy(&data[body_start..body_start + length]).into_owned();
    conn.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .expect("answer");
    let _ = conn.shutdown().await;
    (path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_sends_start_and_complete_or_fail_with_its_lineage() {
    let (addr, mut events) = receiver(None).await;
    let mut s = Scenario::people().start().await;
    s.env = s.env.clone().set(OPENLINEAGE_URL, format!("http://{addr}"));
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");

    let (path, body) = events.recv().await.expect("START");
    assert_eq!(path, "/api/v1/lineage");
    let start = event(&body);
    assert_eq!(start.event_type, EventType::Start);
    assert_eq!(start.job.namespace, "datasurface://Test");
    assert_eq!(start.job.name, "YellowLive.Store1");
    assert_eq!(start.inputs[0].name, format!("{}.public.people", s.src_db));
    let merge_table = datasurface::naming::merge_table("YellowLive", "Store1", "people");
    assert_eq!(
        start.outputs[0].name,
        format!("{}.public.{merge_table}", s.merge_db)
    );
    let complete = event(&events.recv().await.expect("COMPLETE").1);
    assert_eq!(complete.event_type, EventType::Complete);
    assert_eq!(complete.run.run_id, start.run.run_id, "one run, two events");
    assert!(complete.event_time >= start.event_time);
    let stats = &complete.outputs[0].output_facets;
    assert_eq!(stats["outputStatistics"]["rowCount"], 3);
    assert_eq!(stats["datasurface_batch"]["inserted"], 3);
    assert_eq!(complete.run.facets["datasurface_batch"]["batch"], 1);

    // A batch whose merge cannot write fails, and says so.
    s.batch("YellowForensic").await.expect("forensic batch");
    let _ = events.recv().await.expect("START");
    let _ = events.recv().await.expect("COMPLETE");
    s.change_source("UPDATE people SET employer = 'Initech' WHERE id = 2")
        .await;
    s.batch_with_merge_blocked("YellowForensic").await;
    let started = event(&events.recv().await.expect("START").1);
    let failed_body = events.recv().await.expect("FAIL").1;
    let failed = event(&failed_body);
    assert_eq!(failed.event_type, EventType::Fail);
    assert_eq!(failed.run.run_id, started.run.run_id);
    let message = failed.run.facets["errorMessage"]["message"]
        .as_str()
        .expect("a message");
    assert!(message.contains("lock"), "{message}");
    // Counts and names only: no row value travels.
    assert!(
        !failed_body.contains("Initech") && !failed_body.contains("Laura"),
        "{failed_body}"
    );
}

/// A test authority and a certificate it signed for `localhost`, made in `dir`: the
/// authority's certificate file, and the server's TLS acceptor.
fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, tokio_rustls::TlsAcceptor) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    datasurface::dev::postgres::test_certificates(dir).expect("test certificates");
    let chain = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("the certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("the certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("the key");
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a server configuration");
    (
        dir.join("ca.crt"),
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_an_https_consumer_whose_certificate_checks_out() {
    let dir = std::env::temp_dir().join(format!("datasurface-lineage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let (ca, tls) = certificates(&dir);
    let (addr, mut events) = receiver(Some(tls)).await;
    let mut s = Scenario::people().start().await;
    let url = format!("https://localhost:{}", addr.port());
    // Not an authority the system trusts: the events are not sent, and the batch goes on.
    s.env = s.env.clone().set(OPENLINEAGE_URL, &url);
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");
    assert!(events.try_recv().is_err(), "nothing reached the consumer");
    // Checked against the authority it names.
    s.env = s
        .env
        .clone()
        .set(OPENLINEAGE_ROOT_CERT, ca.display().to_string());
    s.batch("YellowForensic").await.expect("forensic batch");
    let (path, body) = events.recv().await.expect("START");
    assert_eq!(path, "/api/v1/lineage");
    assert_eq!(event(&body).event_type, EventType::Start);
    let (_, body) = events.recv().await.expect("COMPLETE");
    assert_eq!(event(&body).event_type, EventType::Complete);
    let _ = std::fs::remove_dir_all(&dir);
}
