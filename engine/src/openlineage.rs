//! OpenLineage run events: when `OPENLINEAGE_URL` is set, each batch tells an OpenLineage
//! consumer (Marquez, DataHub, …) that it started, and that it completed — with each merge
//! table's counts — or failed, so lineage shows up there without a connector.
//!
//! The events name tables by the model's hosts and databases (never an override URL, which
//! may hold a password) and carry counts and the error's message, never a row value. Sending
//! is best effort: a consumer that is down costs a warning in the log, never the batch.

use crate::pg::Environment;
use crate::state::Metrics;
use chrono::{DateTime, Utc};
use datasurface_model::{Stream, naming};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where the events go: `http(s)://host:port` (the default path `/api/v1/lineage`, as
/// OpenLineage's HTTP transport has it) or a full URL.
pub const URL_VAR: &str = "OPENLINEAGE_URL";
/// A PEM file of the authorities an `https` consumer's certificate is checked against,
/// instead of the system's.
pub const ROOT_CERT_VAR: &str = "OPENLINEAGE_ROOT_CERT";
/// A token sent as `Authorization: Bearer …`, when the consumer wants one.
pub const API_KEY_VAR: &str = "OPENLINEAGE_API_KEY";
/// The spec the events follow.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// Who produced the events.
pub const PRODUCER: &str = "https://github.com/datasurface/datasurface-rs";
/// How long one event may take to send.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One batch run's events.
#[derive(Debug)]
pub(crate) struct Run<'a> {
    target: Target,
    client: reqwest::Client,
    api_key: Option<String>,
    run_id: String,
    ecosystem: &'a str,
    stream: &'a Stream<'a>,
    batch: i32,
}

#[derive(Debug)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}{}", self.host, self.port, self.path)
    }
}

impl<'a> Run<'a> {
    /// The events of this run of batch `batch`, or `None` when `OPENLINEAGE_URL` is not set
    /// (or cannot be used: said once in the log).
    pub(crate) fn new(
        env: &Environment,
        ecosystem: &'a str,
        stream: &'a Stream<'a>,
        batch: i32,
    ) -> Option<Run<'a>> {
        let url = env.get(URL_VAR)?;
        let root_cert = env.get(ROOT_CERT_VAR).map(std::path::Path::new);
        let usable = parse(url).and_then(|target| Ok((client(target.tls, root_cert)?, target)));
        let (client, target) = match usable {
            Ok(usable) => usable,
            Err(why) => {
                tracing::warn!("{URL_VAR} is not used: {why}");
                return None;
            }
        };
        let started = Utc::now();
        Some(Run {
            target,
            client,
            api_key: env.get(API_KEY_VAR).map(str::to_owned),
            run_id: run_id(ecosystem, stream, batch, started),
            ecosystem,
            stream,
            batch,
        })
    }

    /// START.
    pub(crate) async fn start(&self) {
        self.send(self.event("START", None, None)).await;
    }

    /// COMPLETE, with each dataset's counts.
    pub(crate) async fn complete(&self, per_dataset: &BTreeMap<String, Metrics>) {
        self.send(self.event("COMPLETE", Some(per_dataset), None))
            .await;
    }

    /// FAIL, with the error's message.
    pub(crate) async fn fail(&self, message: &str) {
        self.send(self.event("FAIL", None, Some(message))).await;
    }

    /// A run event of `kind`.
    fn event(
        &self,
        kind: &str,
        counts: Option<&BTreeMap<String, Metrics>>,
        error: Option<&str>,
    ) -> Value {
        let stream = self.stream;
        let platform = &stream.platform.model.name;
        let source = &stream.store.capture.database;
        let merge = &stream.platform.provider.merge_database;
        let inputs: Vec<Value> = stream
            .datasets
            .iter()
            .map(|d| {
                json!({
                    "namespace": format!("postgres://{}:{}", source.host, source.port),
                    "name": format!("{}.{}.{}", source.database, stream.store.capture.schema, d.name),
                })
            })
            .collect();
        let outputs: Vec<Value> = stream
            .datasets
            .iter()
            .map(|d| {
                let mut output = json!({
                    "namespace": format!("postgres://{}:{}", merge.host, merge.port),
                    "name": format!(
                        "{}.public.{}",
                        merge.database,
                        naming::merge_table(platform, &stream.store.model.name, &d.name)
                    ),
                });
                if let Some(m) = counts.and_then(|c| c.get(&d.name)) {
                    output["outputFacets"] = json!({
                        "outputStatistics": {
                            "_producer": PRODUCER,
                            "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
                            "rowCount": m.total,
                        },
                        "datasurface_batch": {
                            "_producer": PRODUCER,
                            "_schemaURL": format!("{PRODUCER}/blob/main/docs/console.md#openlineage"),
                            "inserted": m.inserted,
                            "updated": m.updated,
                            "deleted": m.deleted,
                            "total": m.total,
                        },
                    });
                }
                output
            })
            .collect();
        let mut run_facets = json!({
            "datasurface_batch": {
                "_producer": PRODUCER,
                "_schemaURL": format!("{PRODUCER}/blob/main/docs/console.md#openlineage"),
                "platform": platform,
                "stream": stream.key.to_string(),
                "batch": self.batch,
            },
        });
        if let Some(message) = error {
            run_facets["errorMessage"] = json!({
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
                "message": message,
                "programmingLanguage": "rust",
            });
        }
        json!({
            "eventType": kind,
            "eventTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "run": { "runId": self.run_id, "facets": run_facets },
            "job": {
                "namespace": format!("datasurface://{}", self.ecosystem),
                "name": format!("{platform}.{}", stream.key),
            },
            "inputs": inputs,
            "outputs": outputs,
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
        })
    }

    async fn send(&self, event: Value) {
        let kind = event["eventType"].as_str().unwrap_or("").to_owned();
        let body = event.to_string();
        match tokio::time::timeout(TIMEOUT, self.post(body)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                tracing::debug!(event = %kind, "OpenLineage event sent")
            }
            Ok(Ok(status)) => tracing::warn!(
                event = %kind,
                status,
                "the OpenLineage consumer refused the event"
            ),
            Ok(Err(e)) => {
                tracing::warn!(event = %kind, error = %e, "cannot send the OpenLineage event")
            }
            Err(_) => {
                tracing::warn!(event = %kind, "the OpenLineage consumer did not answer within 5 s")
            }
        }
    }

    /// POSTs `body` as JSON; the response's status.
    async fn post(&self, body: String) -> Result<u16, reqwest::Error> {
        let mut request = self
            .client
            .post(self.target.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        Ok(request.send().await?.status().as_u16())
    }
}

/// The HTTP client of the events: for `https`, TLS checked against `root_cert` or the
/// system's roots (plain `http` needs neither); no redirects (a redirect would carry the
/// token elsewhere), no proxy from the environment.
fn client(https: bool, root_cert: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let tls = if https {
        crate::pg::https(root_cert)
    } else {
        crate::pg::plain_http()
    };
    let tls = tls.map_err(|e| match root_cert {
        Some(path) => format!("{ROOT_CERT_VAR} ({}): {e}", path.display()),
        None => format!("{e} (or name one with {ROOT_CERT_VAR})"),
    })?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())
}

/// `http(s)://host[:port][/path]`; the default path is OpenLineage's `/api/v1/lineage`.
fn parse(url: &str) -> Result<Target, String> {
    let (tls, rest) = match url.split_once("://") {
        Some(("http", rest)) => (false, rest),
        Some(("https", rest)) => (true, rest),
        _ => return Err("the URL is neither http:// nor https://".into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = match path.trim_end_matches('/') {
        "" => "/api/v1/lineage".to_owned(),
        p => p.to_owned(),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| format!("port `{p}` is not a number"))?,
        ),
        None => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() || host.contains('@') {
        return Err("the URL names no host (and takes no user or password)".into());
    }
    Ok(Target {
        tls,
        host: host.to_owned(),
        port,
        path,
    })
}

/// A run id in UUID form, from what makes this run unique.
fn run_id(ecosystem: &str, stream: &Stream<'_>, batch: i32, started: DateTime<Utc>) -> String {
    let digest = Sha256::digest(
        format!(
            "{ecosystem}\n{}\n{}\n{batch}\n{}",
            stream.platform.model.name,
            stream.key,
            started.timestamp_nanos_opt().unwrap_or_default()
        )
        .as_bytes(),
    );
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    // Version 4 and the RFC 4122 variant, as a random UUID has them.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn urls() {
        let t = parse("http://marquez:5000").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("marquez", 5000, "/api/v1/lineage")
        );
        let t = parse("http://127.0.0.1:9/custom/path").unwrap();
        assert_eq!(t.path, "/custom/path");
        let t = parse("https://lineage.example.com").unwrap();
        assert_eq!(t.url(), "https://lineage.example.com:443/api/v1/lineage");
        assert!(parse("ftp://x").unwrap_err().contains("neither"));
        assert!(parse("http://user:pw@x").is_err());
    }
}
