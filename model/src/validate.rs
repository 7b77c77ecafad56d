//! Validation: every problem of a model found in one pass, each with its path in the
//! model and, where one helps, a hint (often the near-miss name that was meant).

use crate::cron::longest_gap;
use crate::ecosystem::Ecosystem;
use crate::latency::format_duration;
use crate::naming::{self, ViewKind};
use crate::platform::{PlatformMode, YellowServiceProvider};
use crate::resources::{Resources, check_quantity};
use crate::schema::DatasetSchema;
use crate::store::{Credential, CredentialKind, Datastore, PostgresDatabase};
use crate::workspace::Retention;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The model cannot be used.
    Error,
    /// Shown, but does not stop anything.
    Warning,
}

/// Where in the model a diagnostic points: `ecosystem Test › zone USA › team team1 › …`.
///
/// Every model object gets one while validation walks the model, so it is cheap: a step
/// and a shared link to the path above.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelPath(Option<Arc<Step>>);

#[derive(Debug, PartialEq, Eq)]
struct Step {
    up: ModelPath,
    kind: String,
    name: String,
}

impl ModelPath {
    /// This path, one step further down.
    pub fn at(&self, kind: &str, name: &str) -> ModelPath {
        ModelPath(Some(Arc::new(Step {
            up: self.clone(),
            kind: kind.to_owned(),
            name: name.to_owned(),
        })))
    }

    /// The steps of the path, from the top (`zone USA`, `team team1`, …).
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        let mut at = &self.0;
        while let Some(step) = at {
            steps.push(format!("{} {}", step.kind, step.name));
            at = &step.up.0;
        }
        steps.reverse();
        steps
    }

    /// The name of the last step.
    fn last_name(&self) -> Option<&str> {
        self.0.as_ref().map(|s| s.name.as_str())
    }
}

impl fmt::Display for ModelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.steps().join(" › "))
    }
}

/// One problem found in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub path: ModelPath,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}\n  at {}", self.message, self.path)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Everything validation found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// The errors, in model order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The warnings, in model order.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.errors().chain(self.warnings()) {
            writeln!(f, "{d}")?;
        }
        let (e, w) = (self.errors().count(), self.warnings().count());
        write!(
            f,
            "{e} {}, {w} {}",
            plural(e, "error"),
            plural(w, "warning")
        )
    }
}

impl std::error::Error for Report {}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// "did you mean `x`?" for the candidate closest to `name`, when one is close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Runs every check on `eco`.
pub(crate) fn check(eco: &Ecosystem) -> Report {
    let mut v = Validator {
        eco,
        report: Report::default(),
        credentials: BTreeMap::new(),
        databases: BTreeMap::new(),
        database_vars: HashMap::new(),
        stores: eco.stores_by_name(),
        gaps: HashMap::new(),
    };
    v.ecosystem();
    v.report
}

struct Validator<'a> {
    eco: &'a Ecosystem,
    report: Report,
    /// Credential name → the kind first seen and where.
    credentials: BTreeMap<String, (CredentialKind, ModelPath)>,
    /// Database model name → the first declaration seen and where.
    databases: BTreeMap<String, (&'a PostgresDatabase, ModelPath)>,
    /// Override variable → the database model name it was first seen for, and where.
    database_vars: HashMap<String, (String, ModelPath)>,
    /// Every datastore by name.
    stores: HashMap<&'a str, &'a Datastore>,
    /// Cron trigger → the longest wait between two runs, or why it is refused.
    gaps: HashMap<&'a str, Result<std::time::Duration, String>>,
}

impl<'a> Validator<'a> {
    fn error(&mut self, path: &ModelPath, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, path, message.into(), hint);
    }

    fn warning(&mut self, path: &ModelPath, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, path, message.into(), hint);
    }

    fn push(
        &mut self,
        severity: Severity,
        path: &ModelPath,
        message: String,
        hint: Option<String>,
    ) {
        self.report.diagnostics.push(Diagnostic {
            severity,
            path: path.clone(),
            message,
            hint,
        });
    }

    fn identifier(&mut self, path: &ModelPath, kind: &str, name: &str) {
        if let Err(e) = naming::check_identifier(name) {
            self.error(path, format!("{kind} name: {e}"), None);
        }
    }

    /// Reports every name that repeats one before it, compared without case (physical
    /// names are lower case, so `Store1` and `store1` would share tables).
    fn unique<'n>(&mut self, kind: &str, items: impl IntoIterator<Item = (&'n str, ModelPath)>) {
        let mut seen: BTreeMap<String, (&str, ModelPath)> = BTreeMap::new();
        for (name, path) in items {
            match seen.get(&name.to_lowercase()) {
                Some((first, first_path)) => {
                    let same = if *first == name {
                        String::new()
                    } else {
                        format!(" (as `{first}`: names are compared without case)")
                    };
                    let message = format!("duplicate {kind} `{name}`{same}");
                    let hint = Some(format!("the first is at {first_path}"));
                    self.error(&path, message, hint);
                }
                None => {
                    seen.insert(name.to_lowercase(), (name, path));
                }
            }
        }
    }

    fn ecosystem(&mut self) {
        let eco = self.eco;
        let root = ModelPath::default().at("ecosystem", &eco.name);
        self.identifier(&root, "ecosystem", &eco.name);

        self.unique(
            "zone",
            eco.zones
                .iter()
                .map(|z| (z.name.as_str(), root.at("zone", &z.name))),
        );
        let mut stores = Vec::new();
        let mut workspaces = Vec::new();
        for zone in &eco.zones {
            let zpath = root.at("zone", &zone.name);
            self.identifier(&zpath, "zone", &zone.name);
            self.unique(
                "team",
                zone.teams
                    .iter()
                    .map(|t| (t.name.as_str(), zpath.at("team", &t.name))),
            );
            for team in &zone.teams {
                let tpath = zpath.at("team", &team.name);
                self.identifier(&tpath, "team", &team.name);
                for store in &team.datastores {
                    let spath = tpath.at("datastore", &store.name);
                    self.datastore(&spath, store);
                    stores.push((store.name.as_str(), spath));
                }
                for ws in &team.workspaces {
                    let wpath = tpath.at("workspace", &ws.name);
                    self.workspace(&wpath, ws);
                    workspaces.push((ws.name.as_str(), wpath));
                }
            }
        }
        self.unique("datastore", stores);
        self.unique("workspace", workspaces);

        self.unique(
            "service provider",
            eco.providers
                .iter()
                .map(|p| (p.name.as_str(), root.at("provider", &p.name))),
        );
        for provider in &eco.providers {
            self.provider(&root.at("provider", &provider.name), provider);
        }
        self.unique(
            "platform",
            eco.platforms
                .iter()
                .map(|p| (p.name.as_str(), root.at("platform", &p.name))),
        );
        self.platforms(&root);
        self.assignments(&root);
        self.physical_names(&root);
    }

    fn datastore(&mut self, path: &ModelPath, store: &'a Datastore) {
        self.identifier(path, "datastore", &store.name);
        match store.sql_snapshot() {
            None => self.error(
                path,
                "the datastore has no capture metadata",
                Some("say how it is captured: `.capture(SqlSnapshot::new(database, credential, \"*/5 * * * *\"))`".into()),
            ),
            Some(snap) => {
                let cpath = path.at("capture", "sql snapshot");
                if let Err(e) = self.capture_gap(&snap.trigger) {
                    self.error(&cpath, format!("invalid cron trigger: {e}"), None);
                }
                self.database(&cpath, &snap.database);
                if let Err(e) = naming::check_identifier(&snap.schema) {
                    self.error(&cpath, format!("source schema name: {e}"), None);
                }
                self.credential(&cpath, &snap.credential, "read the source database");
                if !(1..=100).contains(&snap.max_delete_percent) {
                    self.error(
                        &cpath,
                        format!("max_delete_percent is {}; it must be 1 to 100", snap.max_delete_percent),
                        Some("100 turns the mass-delete guard off".into()),
                    );
                }
            }
        }
        if store.datasets.is_empty() {
            self.error(
                path,
                "the datastore has no datasets",
                Some("add one with `.dataset::<MyStruct>()`".into()),
            );
        }
        self.unique(
            "dataset",
            store
                .datasets
                .iter()
                .map(|d| (d.name.as_str(), path.at("dataset", &d.name))),
        );
        for dataset in &store.datasets {
            self.dataset(&path.at("dataset", &dataset.name), dataset);
        }
    }

    /// The longest wait between two runs of `trigger`, worked out once per trigger.
    fn capture_gap(&mut self, trigger: &'a str) -> Result<std::time::Duration, String> {
        self.gaps
            .entry(trigger)
            .or_insert_with(|| longest_gap(trigger))
            .clone()
    }

    /// A group cannot be fresher than the stores it reads are captured.
    fn latency(&mut self, path: &ModelPath, dsg: &'a crate::workspace::DatasetGroup) {
        let Some(latency) = dsg.latency else {
            return;
        };
        if latency.is_zero() {
            self.error(path, "the dataset group asks for a latency of 0s", None);
            return;
        }
        let mut checked = HashSet::new();
        for sink in &dsg.sinks {
            let Some(store) = self.stores.get(sink.store.as_str()).copied() else {
                continue;
            };
            let Some(snap) = store.sql_snapshot() else {
                continue;
            };
            if !checked.insert(store.name.as_str()) {
                continue;
            }
            if let Ok(gap) = self.capture_gap(&snap.trigger)
                && latency < gap
            {
                self.error(
                        path,
                        format!(
                            "the dataset group asks for data at most {} old, but datastore {} is captured on `{}`, up to {} apart",
                            format_duration(latency),
                            store.name,
                            snap.trigger,
                            format_duration(gap)
                        ),
                        Some(format!(
                            "ask for `.latency(Duration::from_secs({}))` or more, or capture {} more often",
                            gap.as_secs(),
                            store.name
                        )),
                    );
            }
        }
    }

    fn dataset(&mut self, path: &ModelPath, ds: &DatasetSchema) {
        self.identifier(path, "dataset", &ds.name);
        if ds.columns.is_empty() {
            self.error(path, "the dataset has no columns", None);
        }
        self.unique(
            "column",
            ds.columns
                .iter()
                .map(|c| (c.name.as_str(), path.at("column", &c.name))),
        );
        for column in &ds.columns {
            let cpath = path.at("column", &column.name);
            if let Err(e) = naming::check_column_name(&column.name) {
                self.error(&cpath, format!("column name: {e}"), None);
            }
            if let Err(e) = column.data_type.check() {
                self.error(&cpath, format!("type: {e}"), None);
            }
        }
        if ds.primary_key.is_empty() {
            self.error(
                path,
                "the dataset has no primary key",
                Some("merges match rows by key: mark the key fields with `#[key]`".into()),
            );
        }
        for (i, key) in ds.primary_key.iter().enumerate() {
            let kpath = path.at("key", key);
            if ds.primary_key[..i].contains(key) {
                self.error(&kpath, format!("key column `{key}` is listed twice"), None);
                continue;
            }
            match ds.find_column(key) {
                None => {
                    let hint = suggest(key, ds.columns.iter().map(|c| c.name.as_str()));
                    self.error(
                        &kpath,
                        format!("key column `{key}` is not a column of the dataset"),
                        hint,
                    );
                }
                Some(c) if c.nullable => self.error(
                    &kpath,
                    format!("key column `{key}` is nullable; key columns must be NOT NULL"),
                    None,
                ),
                Some(c) if !c.data_type.can_be_key() => self.error(
                    &kpath,
                    format!(
                        "key column `{key}` is {}, which cannot be a key: keys are compared while they stream",
                        c.data_type
                    ),
                    Some("make the key of another type (text, a number, a date, …)".into()),
                ),
                Some(_) => {}
            }
        }
        let unclassified: Vec<&str> = ds
            .columns
            .iter()
            .filter(|c| c.classification.is_none() && ds.classification.is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !unclassified.is_empty() {
            self.warning(
                path,
                format!(
                    "no classification for column(s) {}",
                    unclassified.join(", ")
                ),
                Some(
                    "classify the dataset (`#[dataset(classification = \"…\")]`) or each column"
                        .into(),
                ),
            );
        }
    }

    fn database(&mut self, path: &ModelPath, db: &'a PostgresDatabase) {
        let dpath = path.at("database", &db.name);
        if db.name.trim().is_empty() {
            self.error(&dpath, "the database has no model name", None);
        }
        if let Err(why) = check_host(&db.host) {
            self.error(&dpath, format!("host `{}`: {why}", db.host), None);
        }
        if db.port == 0 {
            self.error(
                &dpath,
                "port 0 is not a usable port",
                Some("PostgreSQL listens on 5432 by default".into()),
            );
        }
        if db.database.is_empty() || db.database.len() > naming::MAX_IDENT_BYTES {
            self.error(
                &dpath,
                format!("database name `{}` must be 1 to 63 bytes", db.database),
                None,
            );
        }
        // One model name, one database: the override variable names it.
        let env = naming::database_env_var(&db.name);
        match self.databases.get(&db.name) {
            Some((first, first_path)) if *first != db => {
                let message = format!(
                    "database `{}` is declared twice, differently ({}:{}/{} and {}:{}/{})",
                    db.name, first.host, first.port, first.database, db.host, db.port, db.database
                );
                let hint = Some(format!(
                    "the first is at {first_path}; declare it once and reuse the value"
                ));
                self.error(&dpath, message, hint);
            }
            Some(_) => {}
            None => {
                let clash = self.database_vars.get(&env).cloned();
                if let Some((other, other_path)) = clash {
                    self.error(
                        &dpath,
                        format!(
                            "databases `{other}` and `{}` would both be overridden by {env}",
                            db.name
                        ),
                        Some(format!("rename one of them; `{other}` is at {other_path}")),
                    );
                }
                self.database_vars
                    .entry(env)
                    .or_insert_with(|| (db.name.clone(), dpath.clone()));
                self.databases.insert(db.name.clone(), (db, dpath));
            }
        }
    }

    fn credential(&mut self, path: &ModelPath, cred: &Credential, purpose: &str) {
        let cpath = path.at("credential", &cred.name);
        if !naming::is_env_var_prefix(&cred.name) {
            self.error(
                &cpath,
                format!(
                    "credential name `{}` cannot prefix an environment variable (`{}_USER`)",
                    cred.name, cred.name
                ),
                Some("use ASCII letters, digits and `_`, not starting with a digit".into()),
            );
        }
        if cred.kind != CredentialKind::UserPassword {
            self.error(
                &cpath,
                format!(
                    "credential `{}` is a token, but it must {purpose} with a user and password",
                    cred.name
                ),
                Some(format!(
                    "declare it with `Credential::user_password(\"{}\")`",
                    cred.name
                )),
            );
        }
        match self.credentials.get(&cred.name) {
            Some((kind, first)) if *kind != cred.kind => {
                let message = format!("credential `{}` is declared with two kinds", cred.name);
                let hint = Some(format!("the first is at {first}"));
                self.error(&cpath, message, hint);
            }
            Some(_) => {}
            None => {
                self.credentials
                    .insert(cred.name.clone(), (cred.kind, cpath));
            }
        }
    }

    fn workspace(&mut self, path: &ModelPath, ws: &'a crate::workspace::Workspace) {
        let eco = self.eco;
        self.identifier(path, "workspace", &ws.name);
        self.unique(
            "dataset group",
            ws.dsgs
                .iter()
                .map(|d| (d.name.as_str(), path.at("dsg", &d.name))),
        );
        for dsg in &ws.dsgs {
            let gpath = path.at("dsg", &dsg.name);
            self.identifier(&gpath, "dataset group", &dsg.name);
            if dsg.sinks.is_empty() {
                self.warning(&gpath, "the dataset group has no sinks", None);
            }
            self.latency(&gpath, dsg);
            let mut seen = HashSet::new();
            for sink in &dsg.sinks {
                let label = format!("{}.{}", sink.store, sink.dataset);
                let kpath = gpath.at("sink", &label);
                if !seen.insert(sink) {
                    self.error(&kpath, format!("sink {label} is listed twice"), None);
                    continue;
                }
                match self.stores.get(sink.store.as_str()) {
                    None => {
                        let hint = suggest(&sink.store, eco.datastores().map(|s| s.name.as_str()));
                        self.error(
                            &kpath,
                            format!("no datastore `{}` in the ecosystem", sink.store),
                            hint,
                        );
                    }
                    Some(store) if store.find_dataset(&sink.dataset).is_none() => {
                        let hint = suggest(
                            &sink.dataset,
                            store.datasets.iter().map(|d| d.name.as_str()),
                        );
                        self.error(
                            &kpath,
                            format!("no dataset `{}` in datastore {}", sink.dataset, sink.store),
                            hint,
                        );
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn provider(&mut self, path: &ModelPath, p: &'a YellowServiceProvider) {
        self.identifier(path, "service provider", &p.name);
        if !naming::is_rfc1123_label(&p.namespace) {
            let fixed = naming::k8s_name(&p.namespace);
            let hint = naming::is_rfc1123_label(&fixed).then(|| format!("did you mean `{fixed}`?"));
            self.error(
                path,
                format!(
                    "namespace `{}` is not an RFC 1123 label (1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit)",
                    p.namespace
                ),
                hint,
            );
        }
        self.database(path, &p.merge_database);
        self.credential(path, &p.merge_credential, "log into the merge database");
        if let Some(console) = &p.console_credential {
            self.credential(path, console, "read the batch tables (the console)");
        }
        if let Err(why) = check_image_repository(&p.image_repository) {
            self.error(
                path,
                format!("image repository `{}`: {why}", p.image_repository),
                None,
            );
        }
        self.resources(path, "Airflow", &p.airflow_resources);
        self.resources(path, "PostgreSQL", &p.postgres_resources);
    }

    /// Every quantity of `resources` (what `whose` containers ask for) is one.
    fn resources(&mut self, path: &ModelPath, whose: &str, resources: &Resources) {
        for (what, quantity) in resources.quantities() {
            if let Err(why) = check_quantity(quantity) {
                self.error(path, format!("{whose} {what}: {why}"), None);
            }
        }
    }

    fn platforms(&mut self, root: &ModelPath) {
        let eco = self.eco;
        let mut k8s_names = Vec::new();
        for platform in &eco.platforms {
            let path = root.at("platform", &platform.name);
            self.identifier(&path, "platform", &platform.name);
            let k8s = naming::k8s_name(&platform.name);
            if naming::check_identifier(&platform.name).is_ok() && !naming::is_rfc1123_label(&k8s) {
                self.error(
                    &path,
                    format!("platform name maps to `{k8s}`, which is not a valid Kubernetes name"),
                    None,
                );
            }
            k8s_names.push((k8s, path.clone()));
            self.resources(&path, "pod", &platform.resources);
            if eco.find_provider(&platform.provider).is_none() {
                let hint = suggest(
                    &platform.provider,
                    eco.providers.iter().map(|p| p.name.as_str()),
                );
                self.error(
                    &path,
                    format!("no service provider `{}`", platform.provider),
                    hint,
                );
            }
            if eco.active_assignments(&platform.name).next().is_none() {
                self.warning(&path, "no dataset group is assigned to this platform", None);
            }
        }
        let mut seen: BTreeMap<&str, &ModelPath> = BTreeMap::new();
        for (k8s, path) in &k8s_names {
            if let Some(first) = seen.insert(k8s, path) {
                // Names equal without case are already reported as duplicates.
                if first.last_name().map(str::to_lowercase)
                    != path.last_name().map(str::to_lowercase)
                {
                    self.error(
                        path,
                        format!("platform Kubernetes name `{k8s}` is also that of the platform at {first}"),
                        None,
                    );
                }
            }
        }
    }

    fn assignments(&mut self, root: &ModelPath) {
        let eco = self.eco;
        let mut seen = HashSet::new();
        for a in &eco.assignments {
            let path = root.at(
                "assignment",
                &format!("{}.{} → {}", a.workspace, a.dsg, a.platform),
            );
            let key = (&a.workspace, &a.dsg, &a.platform);
            if !seen.insert(key) {
                self.error(
                    &path,
                    "the dataset group is assigned to this platform twice",
                    None,
                );
                continue;
            }
            let platform = eco.find_platform(&a.platform);
            if platform.is_none() {
                let hint = suggest(&a.platform, eco.platforms.iter().map(|p| p.name.as_str()));
                self.error(&path, format!("no platform `{}`", a.platform), hint);
            }
            let Some(ws) = eco.find_workspace(&a.workspace) else {
                let hint = suggest(&a.workspace, eco.workspaces().map(|w| w.name.as_str()));
                self.error(&path, format!("no workspace `{}`", a.workspace), hint);
                continue;
            };
            let Some(dsg) = ws.find_dsg(&a.dsg) else {
                let hint = suggest(&a.dsg, ws.dsgs.iter().map(|d| d.name.as_str()));
                self.error(
                    &path,
                    format!("no dataset group `{}` in workspace {}", a.dsg, a.workspace),
                    hint,
                );
                continue;
            };
            if let Some(platform) = platform
                && platform.mode.retention() != dsg.retention
            {
                let (wants, mode) = match dsg.retention {
                    Retention::LiveOnly => ("LIVE_ONLY", PlatformMode::Live),
                    Retention::Forensic => ("FORENSIC", PlatformMode::Forensic),
                };
                let fits: Vec<String> = eco
                    .platforms
                    .iter()
                    .filter(|p| p.mode == mode)
                    .map(|p| format!("`{}`", p.name))
                    .collect();
                let hint =
                    (!fits.is_empty()).then(|| format!("assign it to {}", fits.join(" or ")));
                let kind = match platform.mode {
                    PlatformMode::Live => "live",
                    PlatformMode::Forensic => "forensic",
                };
                self.error(
                    &path,
                    format!(
                        "dataset group {} asks for {wants} retention, but platform {} is {kind}",
                        a.dsg, a.platform
                    ),
                    hint,
                );
            }
        }
        for ws in eco.workspaces() {
            for dsg in &ws.dsgs {
                let served = eco
                    .assignments
                    .iter()
                    .any(|a| a.workspace == ws.name && a.dsg == dsg.name && a.is_active());
                if !served {
                    let path = root.at("workspace", &ws.name).at("dsg", &dsg.name);
                    self.warning(
                        &path,
                        "the dataset group is not assigned to any platform; no data reaches it",
                        None,
                    );
                }
            }
        }
    }

    /// Every table and view of the platforms sharing one merge database must have its own
    /// name after lower-casing and the 63-byte rule.
    fn physical_names(&mut self, root: &ModelPath) {
        let eco = self.eco;
        // (host, port, database) → physical name → what owns it. A model of 100,000
        // datasets claims half a million names: what owns each is only put in words, and
        // its path made, when another claims the same name.
        let mut owners: BTreeMap<(&str, u16, &str), HashMap<String, NameOwner<'_>>> =
            BTreeMap::new();
        let mut clashes = Vec::new();
        for platform in &eco.platforms {
            let Some(provider) = eco.find_provider(&platform.provider) else {
                continue;
            };
            let db = &provider.merge_database;
            let names = owners
                .entry((db.host.as_str(), db.port, db.database.as_str()))
                .or_default();
            let mut claim = |name: String, owner: NameOwner<'a>| match names.get(&name) {
                Some(first) if first.to_string() != owner.to_string() => {
                    clashes.push((name, owner, *first));
                }
                Some(_) => {}
                None => {
                    names.insert(name, owner);
                }
            };
            let p = platform.name.as_str();
            claim(naming::batch_counter_table(p), NameOwner::BatchCounter(p));
            claim(naming::batch_metrics_table(p), NameOwner::BatchMetrics(p));
            for (store, ds) in eco.ingested_datasets(p) {
                let (store, ds) = (store.name.as_str(), ds.name.as_str());
                claim(
                    naming::staging_table(p, store, ds),
                    NameOwner::Staging(p, store, ds),
                );
                claim(
                    naming::merge_table(p, store, ds),
                    NameOwner::Merge(p, store, ds),
                );
            }
            let kinds: &[ViewKind] = match platform.mode {
                PlatformMode::Live => &[ViewKind::Live],
                PlatformMode::Forensic => &[ViewKind::Live, ViewKind::Full],
            };
            for (a, store, dataset) in eco.assigned_sinks(p) {
                if !a.is_active() {
                    continue;
                }
                for kind in kinds {
                    let name = naming::view_name(
                        p,
                        &a.workspace,
                        &a.dsg,
                        &store.name,
                        &dataset.name,
                        *kind,
                    );
                    claim(
                        name,
                        NameOwner::View {
                            platform: p,
                            workspace: &a.workspace,
                            dsg: &a.dsg,
                            store: &store.name,
                            dataset: &dataset.name,
                        },
                    );
                }
            }
        }
        for (name, owner, first) in clashes {
            self.error(
                &owner.path(root, &name),
                format!("{owner} and {first} would both be named `{name}` in the merge database"),
                Some(format!(
                    "rename one of them; the other is at {}",
                    first.path(root, &name)
                )),
            );
        }
    }
}

/// What owns a name in a merge database: a platform's table, a dataset's, or a view.
#[derive(Debug, Clone, Copy)]
enum NameOwner<'a> {
    BatchCounter(&'a str),
    BatchMetrics(&'a str),
    /// The staging table of (platform, store, dataset).
    Staging(&'a str, &'a str, &'a str),
    /// The merge table of (platform, store, dataset).
    Merge(&'a str, &'a str, &'a str),
    View {
        platform: &'a str,
        workspace: &'a str,
        dsg: &'a str,
        store: &'a str,
        dataset: &'a str,
    },
}

impl NameOwner<'_> {
    /// Where the model declares it, for the name `name` it claims.
    fn path(&self, root: &ModelPath, name: &str) -> ModelPath {
        match *self {
            NameOwner::BatchCounter(p) | NameOwner::BatchMetrics(p) => root.at("platform", p),
            NameOwner::Staging(p, store, ds) | NameOwner::Merge(p, store, ds) => root
                .at("platform", p)
                .at("dataset", &format!("{store}.{ds}")),
            NameOwner::View { platform, .. } => root.at("platform", platform).at("view", name),
        }
    }
}

impl fmt::Display for NameOwner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOwner::BatchCounter(p) => write!(f, "the batch counter of {p}"),
            NameOwner::BatchMetrics(p) => write!(f, "the batch metrics of {p}"),
            NameOwner::Staging(p, store, ds) => write!(f, "the staging table of {p} {store}.{ds}"),
            NameOwner::Merge(p, store, ds) => write!(f, "the merge table of {p} {store}.{ds}"),
            NameOwner::View {
                platform,
                workspace,
                dsg,
                store,
                dataset,
            } => write!(
                f,
                "a view of {platform} {workspace}.{dsg} sink {store}.{dataset}"
            ),
        }
    }
}

/// A host name (RFC 1123 labels separated by dots) or an IP address.
fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err("a host name has 1 to 253 characters".into());
    }
    let lower = host.to_ascii_lowercase();
    match lower
        .split('.')
        .find(|label| !naming::is_rfc1123_label(label))
    {
        Some(label) => Err(format!(
            "`{label}` is not a valid host-name label (a-z, 0-9 and `-`, not starting or ending with `-`)"
        )),
        None => Ok(()),
    }
}

/// An image repository without tag or digest: `[registry[:port]/]path`, lower case.
fn check_image_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("it is empty".into());
    }
    if repo.contains('@') {
        return Err(
            "give the repository without a digest; the tag is derived from the model".into(),
        );
    }
    let last = repo.rsplit('/').next().unwrap_or(repo);
    if last.contains(':') {
        return Err("give the repository without a tag; the tag is derived from the model".into());
    }
    let path = repo.split_once('/').map_or(repo, |(first, rest)| {
        // A first component with `.` or `:` is a registry host.
        if first.contains('.') || first.contains(':') {
            rest
        } else {
            repo
        }
    });
    let ok = path.split('/').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && part.as_bytes()[0].is_ascii_alphanumeric()
    });
    if ok {
        Ok(())
    } else {
        Err("image paths use lower-case letters, digits and `.`, `_`, `-` between `/`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_near_miss() {
        let names = ["customers", "addresses"];
        assert_eq!(
            suggest("customer", names),
            Some("did you mean `customers`?".into())
        );
        assert_eq!(
            suggest("Addresses", names),
            Some("did you mean `addresses`?".into())
        );
        assert_eq!(suggest("orders", names), None);
    }

    #[test]
    fn hosts() {
        assert!(check_host("postgres").is_ok());
        assert!(check_host("pg-data.ns-kub-pg-test.svc.cluster.local").is_ok());
        assert!(check_host("127.0.0.1").is_ok());
        assert!(check_host("::1").is_ok());
        assert!(check_host("").is_err());
        assert!(check_host("bad_host").is_err());
        assert!(check_host("-x.example").is_err());
        assert!(check_host("a..b").is_err());
    }

    #[test]
    fn image_repositories() {
        assert!(check_image_repository("datasurface/mvp").is_ok());
        assert!(check_image_repository("registry.example.com:5000/team/mvp").is_ok());
        assert!(check_image_repository("mvp").is_ok());
        assert!(check_image_repository("datasurface/mvp:latest").is_err());
        assert!(check_image_repository("datasurface/mvp@sha256:abc").is_err());
        assert!(check_image_repository("DataSurface/mvp").is_err());
        assert!(check_image_repository("").is_err());
    }
}
