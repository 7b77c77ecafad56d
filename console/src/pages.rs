//! The catalog's pages, rendered with Askama (`templates/*.html`, escaping on): what each
//! page shows, gathered from the catalog and, when the server has one, the live health.
//! The static site renders the same pages without health.
//!
//! Every string from the model or a database reaches the page through the templates'
//! escaping; the only markup made here is the SVG of [`lineage`](crate::lineage) and
//! [`trend`](crate::trend), which escape their own text.

use crate::catalog::{Catalog, dataset_path, is_personal};
use crate::health::{Freshness, Health, duration, is_open};
use crate::lineage::Lineage;
use crate::links::Links;
use crate::summary::Summary;
use crate::trend;
use askama::Template;
use chrono::{DateTime, Utc};
use datasurface_engine::BatchRecord;
use datasurface_model::{Consistency, Retention, format_duration};

/// The pages' style sheet, served beside them (one file, not a copy in every page).
pub const STYLE: &str = include_str!("style.css");
/// Its file name.
pub const STYLE_FILE: &str = "style.css";
/// The static catalog's search, which reads the index `docs --out` writes beside it.
pub const SEARCH_SCRIPT: &str = include_str!("search.js");
/// Where the static catalog's search script is, below its root.
pub const SEARCH_SCRIPT_FILE: &str = "search.js";

/// The most rows a list on a page shows: the rest is one search away.
pub const LIST_LIMIT: usize = 200;

/// What every page shows around its content.
#[derive(Debug)]
pub struct Chrome {
    pub eco: String,
    pub title: String,
    pub home: String,
    /// The style sheet's link.
    pub css: String,
    /// The search page's link.
    pub search: String,
    /// The server's search form and live health (not in the static site).
    pub live: bool,
    /// When the batch tables were last read, as text.
    pub read_at: Option<String>,
}

/// What a page is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub links: &'a Links,
    /// The live health, or `None` for the static site.
    pub health: Option<&'a Health>,
    pub summary: Option<&'a Summary>,
    pub now: DateTime<Utc>,
    /// The runtime binary's name, for the commands a page suggests (`mvp`).
    pub program: &'a str,
}

impl Context<'_> {
    fn chrome(&self, title: impl Into<String>) -> Chrome {
        Chrome {
            eco: self.catalog.eco().model().name.clone(),
            title: title.into(),
            home: self.links.to(""),
            css: self.links.asset(STYLE_FILE),
            search: self.links.to("search"),
            live: !self.links.is_static(),
            read_at: self
                .health
                .and_then(|h| h.read_at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        }
    }
}

/// A link: its text and where it points.
#[derive(Debug, Clone)]
pub struct Link {
    pub text: String,
    pub href: String,
}

fn link(ctx: &Context<'_>, text: impl Into<String>, path: &str) -> Link {
    Link {
        text: text.into(),
        href: ctx.links.to(path),
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    c: Chrome,
    zones: Vec<(Link, Vec<Link>)>,
    platforms: Vec<Link>,
    stores: usize,
    datasets: usize,
    workspaces: usize,
    summary: Option<SummaryView>,
}

#[derive(Debug)]
struct SummaryView {
    counts: Vec<(&'static str, usize)>,
    problems: Vec<ProblemRow>,
    more: usize,
}

#[derive(Debug)]
struct ProblemRow {
    state: &'static str,
    what: Link,
    platform: String,
    detail: String,
}

/// The home page: the ecosystem's shape and, live, what needs attention first.
pub fn index(ctx: &Context<'_>) -> String {
    let model = ctx.catalog.eco().model();
    let zones = model
        .zones
        .iter()
        .map(|z| {
            let teams = z
                .teams
                .iter()
                .map(|t| link(ctx, &t.name, &format!("teams/{}/{}", z.name, t.name)))
                .collect();
            (link(ctx, &z.name, &format!("zones/{}", z.name)), teams)
        })
        .collect();
    let summary = ctx.summary.map(|s| SummaryView {
        counts: s.counts.clone(),
        problems: s
            .problems
            .iter()
            .map(|p| ProblemRow {
                state: p.state,
                what: link(ctx, &p.label, &p.path),
                platform: p.platform.clone(),
                detail: p.detail.clone(),
            })
            .collect(),
        more: s.more,
    });
    IndexPage {
        c: ctx.chrome("Overview"),
        zones,
        platforms: model
            .platforms
            .iter()
            .map(|p| link(ctx, &p.name, &format!("platforms/{}", p.name)))
            .collect(),
        stores: model.datastores().count(),
        datasets: model.datastores().map(|s| s.datasets.len()).sum(),
        workspaces: model.workspaces().count(),
        summary,
    }
    .render()
    .unwrap_or_else(render_failed)
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Chrome,
    query: String,
    hits: Vec<(&'static str, Link)>,
}

/// Search results for `query`.
pub fn search(ctx: &Context<'_>, query: &str) -> String {
    let hits = ctx
        .catalog
        .search(query, 50)
        .into_iter()
        .map(|e| (e.kind, link(ctx, &e.label, &e.path)))
        .collect();
    SearchPage {
        c: ctx.chrome(format!("Search: {query}")),
        query: query.to_owned(),
        hits,
    }
    .render()
    .unwrap_or_else(render_failed)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    c: Chrome,
    what: String,
    hint: Option<Link>,
}

/// The page of something the model does not have, with the near miss when there is one.
pub fn not_found(ctx: &Context<'_>, kind: &str, name: &str) -> String {
    let hint = ctx
        .catalog
        .near_miss(kind, name)
        .map(|e| link(ctx, &e.label, &e.path));
    NotFoundPage {
        c: ctx.chrome("Not found"),
        what: format!("no {kind} `{name}` in the ecosystem"),
        hint,
    }
    .render()
    .unwrap_or_else(render_failed)
}

#[derive(Template)]
#[template(path = "zone.html")]
struct ZonePage {
    c: Chrome,
    teams: Vec<(Link, usize, usize)>,
}

/// A governance zone: its teams.
pub fn zone(ctx: &Context<'_>, name: &str) -> Option<String> {
    let zone = ctx
        .catalog
        .eco()
        .model()
        .zones
        .iter()
        .find(|z| z.name == name)?;
    let teams = zone
        .teams
        .iter()
        .map(|t| {
            (
                link(ctx, &t.name, &format!("teams/{}/{}", zone.name, t.name)),
                t.datastores.len(),
                t.workspaces.len(),
            )
        })
        .collect();
    Some(
        ZonePage {
            c: ctx.chrome(format!("Zone {}", zone.name)),
            teams,
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    c: Chrome,
    zone: Link,
    stores: Vec<(Link, usize)>,
    more_stores: usize,
    workspaces: Vec<Link>,
}

/// A team: its datastores and workspaces.
pub fn team(ctx: &Context<'_>, zone: &str, name: &str) -> Option<String> {
    let z = ctx
        .catalog
        .eco()
        .model()
        .zones
        .iter()
        .find(|z| z.name == zone)?;
    let team = z.teams.iter().find(|t| t.name == name)?;
    Some(
        TeamPage {
            c: ctx.chrome(format!("Team {}", team.name)),
            zone: link(ctx, &z.name, &format!("zones/{}", z.name)),
            stores: team
                .datastores
                .iter()
                .take(LIST_LIMIT)
                .map(|s| {
                    (
                        link(ctx, &s.name, &format!("stores/{}", s.name)),
                        s.datasets.len(),
                    )
                })
                .collect(),
            more_stores: team.datastores.len().saturating_sub(LIST_LIMIT),
            workspaces: team
                .workspaces
                .iter()
                .map(|w| link(ctx, &w.name, &format!("workspaces/{}", w.name)))
                .collect(),
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

/// One row of a recent-batches table.
#[derive(Debug)]
struct BatchRow {
    id: i32,
    status: &'static str,
    started: String,
    duration: String,
    /// How long its phases took, as far as it recorded them.
    phases: String,
    inserted: String,
    updated: String,
    deleted: String,
    total: String,
}

fn batch_row(b: &BatchRecord) -> BatchRow {
    let n = |v: Option<i64>| v.map_or_else(|| "–".into(), |v| v.to_string());
    BatchRow {
        id: b.batch_id,
        status: b.batch_status.as_str(),
        started: b.batch_start_time.format("%Y-%m-%d %H:%M:%S").to_string(),
        duration: duration(b).map_or_else(|| "open".into(), |d| format!("{d:.1}s")),
        phases: b
            .state
            .timings
            .phases()
            .map(|(phase, seconds)| format!("{phase} {seconds:.1}s"))
            .collect::<Vec<_>>()
            .join(" · "),
        inserted: n(b.records_inserted),
        updated: n(b.records_updated),
        deleted: n(b.records_deleted),
        total: n(b.total_records),
    }
}

/// A stream's health on a page: its recent batches, its open or failed batch and how to
/// reset it, and the trend of its counts.
#[derive(Debug)]
struct StreamPanel {
    platform: Link,
    key: String,
    /// Why its merge database could not be read.
    error: Option<String>,
    batches: Vec<BatchRow>,
    open: Option<String>,
    failure: Option<(i32, String)>,
    reset: String,
    trend: String,
}

fn stream_panel(ctx: &Context<'_>, health: &Health, s: &crate::catalog::StreamInfo) -> StreamPanel {
    let mut reset = format!(
        "{} reset-batch --platform {} --store {}",
        ctx.program, s.platform, s.store
    );
    if let Some((_, ds)) = s.key.split_once('#') {
        reset.push_str(&format!(" --dataset {ds}"));
    }
    let platform = link(ctx, &s.platform, &format!("platforms/{}", s.platform));
    match health.stream(s) {
        Err(e) => StreamPanel {
            platform,
            key: s.key.clone(),
            error: Some(e),
            batches: Vec::new(),
            open: None,
            failure: None,
            reset,
            trend: String::new(),
        },
        Ok(view) => StreamPanel {
            platform,
            key: s.key.clone(),
            error: None,
            batches: view.batches.iter().rev().map(batch_row).collect(),
            open: view.open().map(|b| {
                let age = (ctx.now - b.batch_start_time).to_std().unwrap_or_default();
                format!(
                    "batch {} is {} (open for {})",
                    b.batch_id,
                    b.batch_status.as_str(),
                    format_duration(std::time::Duration::from_secs(age.as_secs()))
                )
            }),
            failure: view.failure().map(|(b, e)| (b.batch_id, e.to_owned())),
            reset,
            trend: trend::svg(view.batches),
        },
    }
}

/// A dataset's freshness on one platform.
#[derive(Debug)]
struct FreshRow {
    platform: String,
    state: &'static str,
    age: String,
}

fn fresh_row(
    ctx: &Context<'_>,
    health: &Health,
    s: &crate::catalog::StreamInfo,
    budget: std::time::Duration,
) -> FreshRow {
    let (state, age) = health.freshness(s, budget, ctx.now);
    FreshRow {
        platform: s.platform.clone(),
        state: state.as_str(),
        age: match (state, age) {
            (_, Some(age)) => format!(
                "last batch committed {} ago",
                format_duration(std::time::Duration::from_secs(age.as_secs()))
            ),
            (Freshness::Never, None) => "no batch has committed yet".into(),
            _ => "the merge database could not be read".into(),
        },
    }
}

#[derive(Template)]
#[template(path = "store.html")]
struct StorePage {
    c: Chrome,
    zone: Link,
    team: Link,
    capture: Vec<(&'static str, String)>,
    datasets: Vec<(Link, String, Vec<FreshRow>)>,
    more_datasets: usize,
    lineage: String,
    streams: Vec<StreamPanel>,
}

/// A datastore: how it is captured, its datasets, their lineage and its streams' health.
pub fn store(ctx: &Context<'_>, name: &str) -> Option<String> {
    let (zone, team, store) = ctx.catalog.store(name)?;
    let budgets = ctx.catalog.eco().budgets();
    let mut capture = Vec::new();
    if let Some(snap) = store.sql_snapshot() {
        let how = if store.logical_replication().is_some() {
            "logical replication"
        } else {
            "SQL snapshot"
        };
        capture.push(("capture", how.to_owned()));
        capture.push(("schedule", snap.trigger.clone()));
        capture.push((
            "longest wait between captures",
            format_duration(budgets.capture_gap(&store.name)),
        ));
        capture.push((
            "source database",
            format!(
                "{} ({}:{}/{})",
                snap.database.name, snap.database.host, snap.database.port, snap.database.database
            ),
        ));
        capture.push(("source schema", snap.schema.clone()));
        capture.push(("credential", snap.credential.name.clone()));
        capture.push((
            "consistency",
            match snap.consistency {
                Consistency::MultiDataset => "multi-dataset (one stream)".into(),
                Consistency::SingleDataset => "single-dataset (a stream per dataset)".into(),
            },
        ));
        capture.push(("mass-delete guard", format!("{}%", snap.max_delete_percent)));
    }
    let datasets = store
        .datasets
        .iter()
        .take(LIST_LIMIT)
        .map(|d| {
            let budget = budgets.dataset(&store.name, &d.name);
            let fresh = match ctx.health {
                Some(h) => ctx
                    .catalog
                    .streams_of(&store.name, &d.name)
                    .into_iter()
                    .map(|s| fresh_row(ctx, h, s, budget))
                    .collect(),
                None => Vec::new(),
            };
            (
                link(ctx, &d.name, &dataset_path(&store.name, &d.name)),
                format_duration(budget),
                fresh,
            )
        })
        .collect();
    let lineage = Lineage::of_datasets(
        ctx.catalog,
        ctx.links,
        store
            .datasets
            .iter()
            .map(|d| (store.name.as_str(), d.name.as_str())),
    )
    .svg();
    let mut streams = Vec::new();
    if let Some(h) = ctx.health {
        for p in ctx.catalog.eco().platforms() {
            for s in ctx.catalog.streams(&p.model.name) {
                if s.store == store.name {
                    streams.push(stream_panel(ctx, h, s));
                }
            }
        }
    }
    Some(
        StorePage {
            c: ctx.chrome(format!("Datastore {}", store.name)),
            zone: link(ctx, &zone.name, &format!("zones/{}", zone.name)),
            team: link(
                ctx,
                &team.name,
                &format!("teams/{}/{}", zone.name, team.name),
            ),
            capture,
            datasets,
            more_datasets: store.datasets.len().saturating_sub(LIST_LIMIT),
            lineage,
            streams,
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

#[derive(Debug)]
struct ColumnRow {
    name: String,
    data_type: String,
    key: bool,
    nullable: bool,
    classification: String,
    personal: bool,
    description: String,
}

#[derive(Debug)]
struct ReaderRow {
    workspace: Link,
    dsg: String,
    latency: String,
    views: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    c: Chrome,
    store: Link,
    description: Option<String>,
    columns: Vec<ColumnRow>,
    budget: String,
    budget_from: &'static str,
    readers: Vec<ReaderRow>,
    fresh: Vec<FreshRow>,
    lineage: String,
    streams: Vec<StreamPanel>,
}

/// A dataset: its columns, who reads it where, its lineage, freshness and batches.
pub fn dataset(ctx: &Context<'_>, store: &str, name: &str) -> Option<String> {
    let (s, ds) = ctx.catalog.dataset(store, name)?;
    let eco = ctx.catalog.eco();
    let budgets = eco.budgets();
    let budget = budgets.dataset(store, name);
    let columns = ds
        .columns
        .iter()
        .map(|c| {
            let class = c.classification.or(ds.classification);
            ColumnRow {
                name: c.name.clone(),
                data_type: c.data_type.pg_type(),
                key: ds.primary_key.contains(&c.name),
                nullable: c.nullable,
                classification: class.map_or_else(|| "unclassified".into(), |c| c.to_string()),
                personal: class.is_some_and(is_personal),
                description: c.description.clone().unwrap_or_default(),
            }
        })
        .collect();
    let readers = ctx
        .catalog
        .readers(store, name)
        .iter()
        .take(LIST_LIMIT)
        .map(|r| {
            let latency = ctx
                .catalog
                .workspace(&r.workspace)
                .and_then(|(_, _, w)| w.find_dsg(&r.dsg))
                .map(|g| format_duration(ctx.catalog.latency(&r.workspace, g)))
                .unwrap_or_default();
            ReaderRow {
                workspace: link(ctx, &r.workspace, &format!("workspaces/{}", r.workspace)),
                dsg: r.dsg.clone(),
                latency,
                views: r
                    .platforms
                    .iter()
                    .flat_map(|(p, views)| views.iter().map(move |v| (p.clone(), v.clone())))
                    .collect(),
            }
        })
        .collect();
    let streams_of = ctx.catalog.streams_of(store, name);
    let (fresh, streams) = match ctx.health {
        Some(h) => (
            streams_of
                .iter()
                .map(|st| fresh_row(ctx, h, st, budget))
                .collect(),
            streams_of
                .iter()
                .map(|st| stream_panel(ctx, h, st))
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Some(
        DatasetPage {
            c: ctx.chrome(format!("{}.{}", s.name, ds.name)),
            store: link(ctx, &s.name, &format!("stores/{}", s.name)),
            description: ds.description.clone(),
            columns,
            budget: format_duration(budget),
            budget_from: if budgets.is_read(store, name) {
                "the tightest latency of the groups that read it"
            } else {
                "no group reads it: twice its store's longest wait between captures"
            },
            readers,
            fresh,
            lineage: Lineage::of_datasets(ctx.catalog, ctx.links, [(store, name)]).svg(),
            streams,
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

#[derive(Debug)]
struct DsgRow {
    name: String,
    retention: &'static str,
    latency: String,
    latency_declared: bool,
    platforms: Vec<Link>,
    sinks: Vec<(Link, Vec<String>)>,
    more_sinks: usize,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    c: Chrome,
    zone: Link,
    team: Link,
    classes: Vec<(String, bool)>,
    personal: bool,
    dsgs: Vec<DsgRow>,
    lineage: String,
}

/// A workspace: its groups, what they read on which platform, the views to query, and
/// which classifications of data it sees.
pub fn workspace(ctx: &Context<'_>, name: &str) -> Option<String> {
    let (zone, team, ws) = ctx.catalog.workspace(name)?;
    let model = ctx.catalog.eco().model();
    let classes: Vec<(String, bool)> = ctx
        .catalog
        .classifications_read(ws)
        .into_iter()
        .map(|c| (c.to_string(), is_personal(c)))
        .collect();
    let dsgs = ws
        .dsgs
        .iter()
        .map(|g| {
            let on: Vec<&str> = model
                .assignments
                .iter()
                .filter(|a| a.workspace == ws.name && a.dsg == g.name && a.is_active())
                .map(|a| a.platform.as_str())
                .collect();
            let sinks = g
                .sinks
                .iter()
                .take(LIST_LIMIT)
                .map(|k| {
                    let views = ctx
                        .catalog
                        .readers(&k.store, &k.dataset)
                        .iter()
                        .filter(|r| r.workspace == ws.name && r.dsg == g.name)
                        .flat_map(|r| r.platforms.iter().flat_map(|(_, v)| v.iter().cloned()))
                        .collect();
                    (
                        link(
                            ctx,
                            format!("{}.{}", k.store, k.dataset),
                            &dataset_path(&k.store, &k.dataset),
                        ),
                        views,
                    )
                })
                .collect();
            DsgRow {
                name: g.name.clone(),
                retention: match g.retention {
                    Retention::LiveOnly => "live only",
                    Retention::Forensic => "forensic",
                },
                latency: format_duration(ctx.catalog.latency(&ws.name, g)),
                latency_declared: g.latency.is_some(),
                platforms: on
                    .iter()
                    .map(|p| link(ctx, *p, &format!("platforms/{p}")))
                    .collect(),
                sinks,
                more_sinks: g.sinks.len().saturating_sub(LIST_LIMIT),
            }
        })
        .collect();
    // The first sinks fill the drawing; a workspace of 200,000 sinks is not walked.
    let lineage = Lineage::of_datasets(
        ctx.catalog,
        ctx.links,
        ws.dsgs
            .iter()
            .flat_map(|g| g.sinks.iter())
            .take(LIST_LIMIT)
            .map(|k| (k.store.as_str(), k.dataset.as_str())),
    )
    .of_total(ctx.catalog.datasets_read(ws))
    .svg();
    Some(
        WorkspacePage {
            c: ctx.chrome(format!("Workspace {}", ws.name)),
            zone: link(ctx, &zone.name, &format!("zones/{}", zone.name)),
            team: link(
                ctx,
                &team.name,
                &format!("teams/{}/{}", zone.name, team.name),
            ),
            personal: classes.iter().any(|(_, p)| *p),
            classes,
            dsgs,
            lineage,
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

#[derive(Debug)]
struct StreamRow {
    key: String,
    store: Link,
    latest: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "platform.html")]
struct PlatformPage {
    c: Chrome,
    facts: Vec<(&'static str, String)>,
    error: Option<String>,
    streams: Vec<StreamRow>,
    more_streams: usize,
}

/// A platform: what it keeps, where, and its streams' latest batches.
pub fn platform(ctx: &Context<'_>, name: &str) -> Option<String> {
    let p = ctx.catalog.eco().platform(name).ok()?;
    if p.model.name != name {
        return None;
    }
    let provider = p.provider;
    let facts = vec![
        (
            "keeps",
            match p.model.mode.retention() {
                Retention::LiveOnly => "the current row per key (live)".to_owned(),
                Retention::Forensic => {
                    "every version with its batch milestones (forensic)".to_owned()
                }
            },
        ),
        ("service provider", provider.name.clone()),
        ("namespace", provider.namespace.clone()),
        (
            "merge database",
            format!(
                "{} ({}:{}/{})",
                provider.merge_database.name,
                provider.merge_database.host,
                provider.merge_database.port,
                provider.merge_database.database
            ),
        ),
    ];
    let all = ctx.catalog.streams(&p.model.name);
    let error = ctx
        .health
        .and_then(|h| h.platforms.get(&p.model.name))
        .and_then(|r| r.as_ref().err().cloned());
    let streams = all
        .iter()
        .take(LIST_LIMIT)
        .map(|s| {
            let (latest, state) = match ctx.health.map(|h| h.stream(s)) {
                Some(Ok(view)) => match view.latest() {
                    Some(b) if view.failure().is_some() => {
                        (format!("batch {} failed", b.batch_id), "stale")
                    }
                    Some(b) if is_open(b.batch_status) => (
                        format!("batch {} {}", b.batch_id, b.batch_status.as_str()),
                        "late",
                    ),
                    Some(b) => (
                        format!("batch {} {}", b.batch_id, b.batch_status.as_str()),
                        "fresh",
                    ),
                    None => ("no batch yet".into(), "never"),
                },
                Some(Err(_)) => ("unknown".into(), "unknown"),
                None => (String::new(), "none"),
            };
            StreamRow {
                key: s.key.clone(),
                store: link(ctx, &s.store, &format!("stores/{}", s.store)),
                latest,
                state,
            }
        })
        .collect();
    Some(
        PlatformPage {
            c: ctx.chrome(format!("Platform {}", p.model.name)),
            facts,
            error,
            streams,
            more_streams: all.len().saturating_sub(LIST_LIMIT),
        }
        .render()
        .unwrap_or_else(render_failed),
    )
}

/// A template that cannot render is a bug, not a page: say so without detail.
fn render_failed(e: askama::Error) -> String {
    tracing::error!(error = %e, "a page could not be rendered");
    "<!doctype html><title>error</title><p>This page could not be rendered.</p>".into()
}
