//! A real Prometheus scrapes a real console during real batches and evaluates the
//! generated alert rules: a dataset held past its consumers' budget fires its alert, and
//! one within it does not.
//!
//! Needs `prometheus` (Debian's package; `DATASURFACE_PROMETHEUS` names the binary).

mod common;

use common::*;
use datasurface::codegen::observe::rules;
use datasurface::console::Console;
use datasurface::serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Prometheus process, stopped when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_held_past_its_budget_fires_its_alert_and_a_fresh_one_does_not() {
    let binary =
        std::env::var("DATASURFACE_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    assert!(
        std::path::Path::new(&binary).exists(),
        "{binary} is missing: scripts/test.sh installs it (apt-get install prometheus)"
    );
    let s = Scenario::people().start().await;
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");
    s.batch("YellowForensic").await.expect("forensic batch");
    // The live stream stopped being fed an hour ago: its last batch ended then (the
    // default budget is 10 minutes, twice the 5-minute schedule).
    s.merge
        .batch_execute(&format!(
            "UPDATE {} SET batch_start_time = batch_start_time - interval '1 hour', \
             batch_end_time = batch_end_time - interval '1 hour'",
            datasurface::naming::batch_metrics_table("YellowLive")
        ))
        .await
        .expect("age the live stream");

    // The console, reading the batch tables every second.
    let console = Console::new(Arc::new(s.eco.clone()), s.env.clone(), "mvp");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let console_addr = listener.local_addr().expect("address");
    tokio::spawn(datasurface::console::serve(
        console,
        listener,
        Duration::from_secs(1),
    ));

    // Prometheus, scraping it and evaluating the generated rules every second.
    let dir = std::env::temp_dir().join(format!("datasurface-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let provider = &s.eco.model().providers[0];
    let rule_file = rules::rule_file(&s.eco, provider);
    std::fs::write(
        dir.join("rules.yaml"),
        serde_saphyr::to_string(&rule_file).expect("YAML"),
    )
    .expect("write rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yaml\n\
         scrape_configs:\n  - job_name: console\n    static_configs:\n      - targets: ['{console_addr}']\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("write config");
    let port = free_port();
    let prometheus_addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let _prometheus = Running(
        Command::new(&binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );

    // Wait, with a deadline, for the late dataset's alert to fire.
    let deadline = Instant::now() + Duration::from_secs(90);
    let alerts = loop {
        let alerts = late_alerts(prometheus_addr).await;
        if alerts
            .iter()
            .any(|(platform, state)| platform == "YellowLive" && state == "firing")
        {
            break alerts;
        }
        assert!(
            Instant::now() < deadline,
            "DataSurfaceDatasetLate did not fire for YellowLive within 90 s: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Evaluated together with it, the fresh forensic dataset stays quiet.
    assert_eq!(alerts, vec![("YellowLive".to_owned(), "firing".to_owned())]);
    // And Prometheus reads the budget the model declared for it.
    let (_, body) = http_get(
        prometheus_addr,
        "/api/v1/query?query=datasurface_dataset_freshness_budget_seconds%7Bplatform%3D%22YellowForensic%22%7D",
    )
    .await;
    let v: Value = datasurface::serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["data"]["result"][0]["value"][1], "600", "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The platform and state of every DataSurfaceDatasetLate alert Prometheus holds
/// (nothing while it is still starting).
async fn late_alerts(addr: SocketAddr) -> Vec<(String, String)> {
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        return Vec::new();
    }
    let (status, body) = http_get(addr, "/api/v1/alerts").await;
    if status != 200 {
        return Vec::new();
    }
    let v: Value = datasurface::serde_json::from_str(&body).expect("alerts JSON");
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["labels"]["alertname"] == "DataSurfaceDatasetLate")
        .map(|a| {
            (
                a["labels"]["platform"].as_str().unwrap_or("").to_owned(),
                a["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}
