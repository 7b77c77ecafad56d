//! How fast the console answers on a large model: the static catalog (`docs --out`), each
//! kind of page and `/metrics` rendered, and pages served over HTTP to many clients at
//! once. The batch history is one committed batch per stream, made up here: the pages and
//! the metrics do the same work whatever the numbers are.
//!
//! `cargo bench -p mvp --bench console` (`SIZES=stores×datasets×columns,…`; default the
//! original's scale target, 10,000 stores × 10 datasets × 10 columns = 100,000 datasets).

mod common;

use common::model;
use datasurface::chrono::Utc;
use datasurface::console::health::Health;
use datasurface::console::links::Links;
use datasurface::console::pages::{self, Context};
use datasurface::console::{Console, metrics, site};
use datasurface::engine::{BatchRecord, BatchState, BatchStatus};
use datasurface::pg::Environment;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let sizes = std::env::var("SIZES").unwrap_or_else(|_| "10000x10x10".into());
    for size in sizes.split(',') {
        let n: Vec<usize> = size.split('x').filter_map(|n| n.parse().ok()).collect();
        let [stores, datasets, columns] = n[..] else {
            panic!("SIZES takes stores×datasets×columns: {size}");
        };
        measure(stores, datasets, columns);
    }
}

/// One committed batch per stream of every platform.
fn history(console: &Console) -> Health {
    let eco = console.catalog().eco();
    let now = Utc::now();
    let mut platforms = HashMap::new();
    for p in eco.platforms() {
        let mut streams = HashMap::new();
        for s in console.catalog().streams(&p.model.name) {
            let batch = BatchRecord {
                key: s.key.clone(),
                batch_id: 1,
                batch_start_time: now - chrono_seconds(90),
                batch_end_time: Some(now - chrono_seconds(60)),
                batch_status: BatchStatus::Committed,
                records_inserted: Some(100),
                records_updated: Some(10),
                records_deleted: Some(1),
                total_records: Some(1000),
                state: BatchState::default(),
            };
            streams.insert(s.key.clone(), vec![batch]);
        }
        platforms.insert(p.model.name.clone(), Ok(streams));
    }
    Health {
        read_at: Some(now),
        platforms,
    }
}

/// One page's rendering.
type Render<'a> = Box<dyn Fn() -> Option<String> + 'a>;

fn chrono_seconds(s: i64) -> datasurface::chrono::TimeDelta {
    datasurface::chrono::TimeDelta::seconds(s)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn measure(stores: usize, datasets: usize, columns: usize) {
    let eco = Arc::new(model(stores, datasets, columns).validate().expect("valid"));
    println!(
        "{stores} stores × {datasets} datasets × {columns} columns ({} datasets):",
        stores * datasets
    );

    let dir = std::env::temp_dir().join(format!("datasurface-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    let written = site::write(eco.clone(), &dir).expect("write the catalog");
    let docs = start.elapsed();
    let bytes = dir_bytes(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "  docs --out: {} pages, {:.1} MiB in {:.2} s",
        written.pages,
        bytes as f64 / 1_048_576.0,
        docs.as_secs_f64()
    );

    let start = Instant::now();
    let console = Console::new(eco.clone(), Environment::new(), "large");
    println!(
        "  console index built in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let health = history(&console);
    let start = Instant::now();
    let text = metrics::render(console.catalog(), &health, Utc::now());
    println!(
        "  /metrics rendered in {:.0} ms ({:.1} MiB, {} samples)",
        millis(start.elapsed()),
        text.len() as f64 / 1_048_576.0,
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
    let start = Instant::now();
    console.show(health.clone());
    println!(
        "  health summary of every dataset in {:.0} ms",
        millis(start.elapsed())
    );

    let links = Links::server();
    let summary = datasurface::console::summary::summarise(console.catalog(), &health, Utc::now());
    let ctx = Context {
        catalog: console.catalog(),
        links: &links,
        health: Some(&health),
        summary: Some(&summary),
        now: Utc::now(),
        program: "large",
    };
    let cases: Vec<(&str, Render<'_>)> = vec![
        ("home", Box::new(|| Some(pages::index(&ctx)))),
        (
            "team (10,000 stores)",
            Box::new(|| pages::team(&ctx, "Global", "platform")),
        ),
        ("datastore", Box::new(|| pages::store(&ctx, "Store5000"))),
        (
            "dataset",
            Box::new(|| pages::dataset(&ctx, "Store5000", "dataset_5000_3")),
        ),
        (
            "workspace (200,000 sinks)",
            Box::new(|| pages::workspace(&ctx, "Everything")),
        ),
        (
            "platform (10,000 streams)",
            Box::new(|| pages::platform(&ctx, "YellowLive")),
        ),
        (
            "search",
            Box::new(|| Some(pages::search(&ctx, "dataset_77_"))),
        ),
        (
            "404 with near miss",
            Box::new(|| {
                Some(pages::not_found(
                    &ctx,
                    "dataset",
                    "Store5000.dataset_5000_33",
                ))
            }),
        ),
    ];
    for (name, render) in &cases {
        let mut times: Vec<f64> = (0..20)
            .map(|_| {
                let start = Instant::now();
                let page = render().expect("the page exists");
                assert!(page.len() > 100);
                millis(start.elapsed())
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "  page {name}: median {:.2} ms, slowest {:.2} ms",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }

    drop(cases);
    http_load(console);
}

/// Pages over HTTP from 32 clients at once, each asking for 25 pages one after another.
fn http_load(console: Arc<Console>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let router = console.router();
            axum_serve(listener, router).await;
        });
        let paths = [
            ("/datasets/Store42/dataset_42_1", ""),
            ("/stores/Store9000", ""),
            ("/", ""),
            ("/metrics", ""),
            // As Prometheus scrapes: the first request compresses, the others reuse it.
            ("/metrics", "Accept-Encoding: gzip\r\n"),
            ("/search?q=dataset_99", ""),
        ];
        for (path, headers) in paths {
            let start = Instant::now();
            let (_, bytes) = get(addr, path, headers).await;
            let first = millis(start.elapsed());
            let started = Instant::now();
            let clients: Vec<_> = (0..32)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut times = Vec::new();
                        for _ in 0..25 {
                            let start = Instant::now();
                            let (status, _) = get(addr, path, headers).await;
                            assert_eq!(status, 200, "{path}");
                            times.push(millis(start.elapsed()));
                        }
                        times
                    })
                })
                .collect();
            let mut times = Vec::new();
            for c in clients {
                times.extend(c.await.expect("a client"));
            }
            let wall = started.elapsed().as_secs_f64();
            times.sort_by(f64::total_cmp);
            println!(
                "  HTTP {path}{}, {:.1} MiB, first {first:.0} ms; 32 clients × 25: median {:.1} ms, p99 {:.1} ms, slowest {:.1} ms, {:.0} pages/s",
                if headers.is_empty() { "" } else { " (gzip)" },
                bytes as f64 / 1_048_576.0,
                times[times.len() / 2],
                times[times.len() * 99 / 100],
                times[times.len() - 1],
                times.len() as f64 / wall
            );
        }
    });
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    router: datasurface::console::server::Router,
) {
    datasurface::console::server::serve_router(listener, router)
        .await
        .expect("serve");
}

/// A GET over a fresh connection: status and body length.
async fn get(addr: std::net::SocketAddr, path: &str, headers: &str) -> (u16, usize) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let head = String::from_utf8_lossy(&response[..response.len().min(20)]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response.len())
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}
