//! `serve`: the console over HTTP (axum on hyper), read-only.
//!
//! One task reads the batch tables every `refresh` and swaps in a new snapshot; requests
//! only read the snapshot in memory, so a page costs the same whether the merge database
//! is fast, slow or down, and however many people look at once.

use crate::catalog::Catalog;
use crate::health::{self, Health};
use crate::links::Links;
use crate::metrics;
use crate::pages::{self, Context};
use crate::summary::{Summary, summarise};
pub use axum::Router;
pub use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use datasurface_engine::pg::Environment;
use datasurface_model::ValidEcosystem;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// What the last read of the batch tables found, and its summary.
#[derive(Debug, Default)]
struct Snapshot {
    health: Health,
    summary: Summary,
    /// `/metrics`, rendered once per read: every scrape gets the same bytes.
    metrics: Bytes,
    /// `metrics` gzipped, made by the first scrape that accepts it: Prometheus asks for
    /// gzip, and the exposition of 100,000 datasets is tens of megabytes of repeated labels.
    metrics_gzip: OnceLock<Bytes>,
}

/// The console of one model: its catalog, and the latest health.
#[derive(Debug)]
pub struct Console {
    catalog: Catalog,
    env: Environment,
    program: String,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Console {
    /// The console of `eco`, reading the merge databases with the credentials and
    /// overrides of `env`. `program` is the runtime binary's name, for the commands the
    /// pages suggest.
    pub fn new(
        eco: Arc<ValidEcosystem>,
        env: Environment,
        program: impl Into<String>,
    ) -> Arc<Self> {
        Arc::new(Console {
            catalog: Catalog::new(eco),
            env,
            program: program.into(),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
        })
    }

    /// Reads the batch tables once and makes what was read the snapshot pages see.
    pub async fn refresh(&self) {
        self.show(health::read(&self.catalog, &self.env).await);
    }

    /// Makes `health` what the pages and `/metrics` show, with its summary.
    pub fn show(&self, health: Health) {
        let now = Utc::now();
        let summary = summarise(&self.catalog, &health, now);
        let metrics = Bytes::from(metrics::render(&self.catalog, &health, now));
        let snapshot = Arc::new(Snapshot {
            health,
            summary,
            metrics,
            metrics_gzip: OnceLock::new(),
        });
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// The catalog the console shows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The console's routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/healthz", get(healthz))
            .route("/style.css", get(style))
            .route("/metrics", get(metrics_text))
            .route("/search", get(search))
            .route("/zones/{zone}", get(zone))
            .route("/teams/{zone}/{team}", get(team))
            .route("/stores/{store}", get(store))
            .route("/datasets/{store}/{dataset}", get(dataset))
            .route("/workspaces/{workspace}", get(workspace))
            .route("/platforms/{platform}", get(platform))
            .fallback(fallback)
            .with_state(self.clone())
    }
}

/// Serves `console` on `listener` until the process ends, reading the batch tables every
/// `refresh`.
pub async fn serve(
    console: Arc<Console>,
    listener: tokio::net::TcpListener,
    refresh: Duration,
) -> std::io::Result<()> {
    let reader = console.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            reader.refresh().await;
        }
    });
    serve_router(listener, console.router()).await
}

/// Serves `router` on `listener` (the console's routes, with no reader of its own).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

type Shared = State<Arc<Console>>;

/// Renders with the live context.
fn page(console: &Console, render: impl FnOnce(&Context<'_>) -> Option<String>) -> Option<String> {
    let snapshot = console.snapshot();
    let links = Links::server();
    let ctx = Context {
        catalog: &console.catalog,
        links: &links,
        health: Some(&snapshot.health),
        summary: Some(&snapshot.summary),
        now: Utc::now(),
        program: &console.program,
    };
    render(&ctx)
}

/// A page, or the 404 of what it names with the near miss.
fn respond(console: &Console, body: Option<String>, kind: &str, name: &str) -> Response {
    match body {
        Some(body) => html(StatusCode::OK, body),
        None => {
            let body =
                page(console, |ctx| Some(pages::not_found(ctx, kind, name))).unwrap_or_default();
            html(StatusCode::NOT_FOUND, body)
        }
    }
}

/// An HTML response. The policy forbids scripts and anything from elsewhere: should an
/// escaping ever be missed, a `<script>` in a description still would not run.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn index(State(c): Shared) -> Response {
    let body = page(&c, |ctx| Some(pages::index(ctx)));
    respond(&c, body, "page", "/")
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        pages::STYLE,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics_text(State(c): Shared, headers: HeaderMap) -> Response {
    let snapshot = c.snapshot();
    let content_type = (
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    if snapshot.health.read_at.is_none() {
        // Before the first read: the budgets, and no database yet.
        let text = metrics::render(&c.catalog, &snapshot.health, Utc::now());
        return ([content_type], text).into_response();
    }
    if !accepts_gzip(&headers) {
        return ([content_type], snapshot.metrics.clone()).into_response();
    }
    let zipped = tokio::task::spawn_blocking(move || {
        snapshot
            .metrics_gzip
            .get_or_init(|| gzip(&snapshot.metrics))
            .clone()
    })
    .await;
    match zipped {
        Ok(body) => (
            [
                content_type,
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "accept-encoding"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "compressing /metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// `text` gzipped at the fast level: the exposition repeats its labels, so even the fast
/// level takes it to a tenth.
fn gzip(text: &[u8]) -> Bytes {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(text)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .expect("compressing into memory does not fail")
}

async fn search(State(c): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let query = q.get("q").map(String::as_str).unwrap_or("");
    let body = page(&c, |ctx| Some(pages::search(ctx, query)));
    respond(&c, body, "page", "search")
}

async fn zone(State(c): Shared, Path(zone): Path<String>) -> Response {
    let body = page(&c, |ctx| pages::zone(ctx, &zone));
    respond(&c, body, "zone", &zone)
}

async fn team(State(c): Shared, Path((zone, team)): Path<(String, String)>) -> Response {
    let body = page(&c, |ctx| pages::team(ctx, &zone, &team));
    respond(&c, body, "team", &team)
}

async fn store(State(c): Shared, Path(store): Path<String>) -> Response {
    let body = page(&c, |ctx| pages::store(ctx, &store));
    respond(&c, body, "datastore", &store)
}

async fn dataset(State(c): Shared, Path((store, dataset)): Path<(String, String)>) -> Response {
    let body = page(&c, |ctx| pages::dataset(ctx, &store, &dataset));
    respond(&c, body, "dataset", &format!("{store}.{dataset}"))
}

async fn workspace(State(c): Shared, Path(ws): Path<String>) -> Response {
    let body = page(&c, |ctx| pages::workspace(ctx, &ws));
    respond(&c, body, "workspace", &ws)
}

async fn platform(State(c): Shared, Path(p): Path<String>) -> Response {
    let body = page(&c, |ctx| pages::platform(ctx, &p));
    respond(&c, body, "platform", &p)
}

async fn fallback(State(c): Shared, uri: axum::http::Uri) -> Response {
    let body = page(&c, |ctx| Some(pages::not_found(ctx, "page", uri.path()))).unwrap_or_default();
    html(StatusCode::NOT_FOUND, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn asking(values: &[&'static str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_to_whoever_accepts_it() {
        // What Prometheus sends.
        assert!(asking(&["gzip"]));
        assert!(asking(&["deflate, GZIP;q=0.5"]));
        assert!(asking(&["br", "*"]));
        assert!(!asking(&[]));
        assert!(!asking(&["identity"]));
        assert!(!asking(&["gzip;q=0"]));
        assert!(!asking(&["x-gzip2"]));
    }
}
