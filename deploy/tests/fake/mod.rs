//! A fake Kubernetes API server in the test process — the one thing these tests cannot
//! run for real (no API server can run on the build machines). It is a `tower` service
//! handed to kube's `Client::new`, as kube-rs tests its own client.
//!
//! It keeps objects by URL, applies server-side-apply patches (dry runs included), lists
//! with label and field selectors, deletes, serves pod logs, and plays the controllers:
//! a StatefulSet or Deployment it stores is ready, a Job complete — unless the test says
//! otherwise. It records every request, which is what the tests assert on. It refuses what
//! a real server refuses where the tests need it: a Forbidden verb, a field another manager
//! owns, a Job template or StatefulSet volume that changes.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use datasurface_codegen::kube::Kind;
use datasurface_deploy::Cluster;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    pub body: Option<Value>,
}

impl Request {
    /// Whether it changes anything: a write that is not a dry run.
    pub fn is_write(&self) -> bool {
        self.method != "GET" && self.query.get("dryRun").map(String::as_str) != Some("All")
    }

    /// The object's name: the last segment of its path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// A Secret, a pod's events and logs, or anything else a test puts in the cluster.
#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Request>,
    /// Names of workloads the controllers never make ready.
    pending: BTreeSet<String>,
    /// Names of Jobs that fail.
    failing: BTreeSet<String>,
    /// (method, plural) refused with 403.
    forbidden: BTreeSet<(String, String)>,
    /// Object URL → (field, manager) another manager owns.
    owned_by_others: BTreeMap<String, (String, String)>,
    /// (pod, container) → log text.
    logs: BTreeMap<(String, String), String>,
    /// Kinds served besides the built-in ones (custom resources whose operator runs).
    custom: Vec<Kind>,
    version: u64,
}

/// The fake server. Clones share it.
#[derive(Clone, Default)]
pub struct Fake {
    state: Arc<Mutex<State>>,
}

/// The URL prefix of a kind: `api/v1` or `apis/{group}/{version}`, then its plural.
fn base(kind: &Kind) -> String {
    match kind.group {
        "" => format!("/api/{}", kind.version),
        group => format!("/apis/{group}/{}", kind.version),
    }
}

/// The URL of an object.
pub fn url(kind: &Kind, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{}/namespaces/{ns}/{}/{name}", base(kind), kind.plural),
        None => format!("{}/{}/{name}", base(kind), kind.plural),
    }
}

impl Fake {
    pub fn new() -> Self {
        Fake::default()
    }

    /// A cluster that talks to this fake.
    pub fn cluster(&self) -> Cluster {
        let state = self.state.clone();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let state = state.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
        });
        Cluster::from_client(
            kube::Client::new(service, "default"),
            "fake",
            "https://fake.invalid",
        )
    }

    /// Serves the fake over HTTP on 127.0.0.1, from threads of its own, for a process that
    /// reaches it through a kubeconfig: its URL.
    pub fn serve(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let state = self.state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || connection(&state, stream));
            }
        });
        url
    }

    /// Stores every Secret `manifest` needs, each key holding `value`.
    pub fn put_secrets(&self, manifest: &datasurface_deploy::Manifest, value: &str) {
        for secret in &manifest.secrets {
            let data: serde_json::Map<String, Value> = secret
                .keys
                .iter()
                .map(|(key, _)| ((*key).to_owned(), json!(value)))
                .collect();
            self.put(
                &Kind::of::<k8s_openapi::api::core::v1::Secret>(),
                json!({"metadata": {"name": secret.name, "namespace": secret.namespace}, "data": data}),
            );
        }
    }

    /// Stores `value` (its kind, namespace and name from its own fields) as a live object.
    pub fn put(&self, kind: &Kind, value: Value) {
        let ns = value.pointer("/metadata/namespace").and_then(Value::as_str);
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .expect("named");
        let key = url(kind, ns, name);
        let mut value = value;
        value["apiVersion"] = json!(kind.api_version);
        value["kind"] = json!(kind.kind);
        self.state.lock().unwrap().objects.insert(key, value);
    }

    /// The live object at `kind`/`namespace`/`name`.
    pub fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Option<Value> {
        let state = self.state.lock().unwrap();
        state.objects.get(&url(kind, namespace, name)).cloned()
    }

    /// Every live object's URL.
    pub fn urls(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// The writes received (no reads, no dry runs).
    pub fn writes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(Request::is_write)
            .collect()
    }

    /// The workload `name` never gets ready.
    pub fn never_ready(&self, name: &str) {
        self.state.lock().unwrap().pending.insert(name.to_owned());
    }

    /// The Job `name` fails.
    pub fn failing(&self, name: &str) {
        self.state.lock().unwrap().failing.insert(name.to_owned());
    }

    /// `method` (GET, PATCH, DELETE) on `plural` is forbidden.
    /// Serves `kind` too, as a cluster does once its operator's resource is defined.
    pub fn serve_kind(&self, kind: Kind) {
        self.state.lock().unwrap().custom.push(kind);
    }

    pub fn forbid(&self, method: &str, plural: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .forbidden
            .insert((method.to_owned(), plural.to_owned()));
    }

    /// `field` of the object at `url` is owned by another field manager.
    pub fn owned_by(&self, url: &str, field: &str, manager: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .owned_by_others
            .insert(url.to_owned(), (field.to_owned(), manager.to_owned()));
    }

    /// The log of `container` in `pod`.
    pub fn log(&self, pod: &str, container: &str, text: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .logs
            .insert((pod.to_owned(), container.to_owned()), text.to_owned());
    }
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code, "details": details}),
    )
}

async fn handle(
    state: &Mutex<State>,
    req: http::Request<kube::client::Body>,
) -> http::Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (code, content_type, body) = answer(state, &method, &target, content_type, &bytes);
    http::Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a response")
}

/// The answer to one request (`target`: path and query): status, content type, body.
fn answer(
    state: &Mutex<State>,
    method: &str,
    target: &str,
    content_type: Option<String>,
    body: &[u8],
) -> (u16, &'static str, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        content_type,
        body: serde_json::from_slice(body).ok(),
    };
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    if request.path.ends_with("/log") {
        return (200, "text/plain", log(&state, &request).into_bytes());
    }
    let (code, value) = respond(&mut state, &request);
    (code, "application/json", value.to_string().into_bytes())
}

/// One HTTP/1.1 connection of [`Fake::serve`]: requests with a Content-Length body, one
/// after another.
fn connection(state: &Mutex<State>, stream: std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let (mut length, mut content_type) = (0, None);
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let (code, content_type, body) = answer(state, &method, &target, content_type, &body);
        // One write per response: split ones meet the client's delayed ACK.
        let mut response = format!(
            "HTTP/1.1 {code} Fake\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend(body);
        writer.write_all(&response)?;
    }
}

fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn log(state: &State, request: &Request) -> String {
    let pod = request
        .path
        .trim_end_matches("/log")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let container = request.query.get("container").cloned().unwrap_or_default();
    let text = state
        .logs
        .get(&(pod, container))
        .cloned()
        .unwrap_or_default();
    let tail: usize = request
        .query
        .get("tailLines")
        .and_then(|t| t.parse().ok())
        .unwrap_or(usize::MAX);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(tail)..].join("\n")
}

/// The plural of a request's path, and whether it names one object.
fn parse(path: &str) -> (String, Option<String>, bool) {
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| {
            path.strip_prefix("/apis/")
                .and_then(|p| p.splitn(3, '/').nth(2))
        })
        .unwrap_or_default();
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["namespaces"] => ("namespaces".into(), None, false),
        ["namespaces", _] => ("namespaces".into(), None, true),
        ["namespaces", ns, plural] => ((*plural).into(), Some((*ns).into()), false),
        ["namespaces", ns, plural, _] => ((*plural).into(), Some((*ns).into()), true),
        [plural] => ((*plural).into(), None, false),
        [plural, _] => ((*plural).into(), None, true),
        _ => (String::new(), None, false),
    }
}

/// Every kind the fake serves: what DataSurface generates, and what an earlier version or
/// another tool may have applied.
fn served_kinds() -> Vec<Kind> {
    use k8s_openapi::api::{batch::v1::CronJob, core::v1::ConfigMap, core::v1::Secret};
    let mut kinds = datasurface_codegen::kube::managed_kinds();
    kinds.extend([
        Kind::of::<ConfigMap>(),
        Kind::of::<Secret>(),
        Kind::of::<CronJob>(),
    ]);
    kinds
}

/// The API's discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}/{version}`),
/// from [`served_kinds`].
fn discovery(path: &str, custom: &[Kind]) -> Option<Value> {
    let mut kinds = served_kinds();
    kinds.extend_from_slice(custom);
    let resources = |group_version: &str| {
        let list: Vec<Value> = kinds
            .iter()
            .filter(|k| k.api_version == group_version)
            .map(|k| {
                json!({"name": k.plural, "singularName": k.kind.to_lowercase(),
                       "namespaced": k.namespaced, "kind": k.kind,
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
            })
            .collect();
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
               "resources": list})
    };
    match path {
        "/api" => Some(json!({"kind": "APIVersions", "versions": ["v1"],
                              "serverAddressByClientCIDRs": []})),
        "/api/v1" => Some(resources("v1")),
        "/apis" => {
            let mut groups: Vec<(&str, &str)> = kinds
                .iter()
                .filter(|k| !k.group.is_empty())
                .map(|k| (k.group, k.version))
                .collect();
            groups.sort();
            groups.dedup();
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(group, version)| {
                    let gv =
                        json!({"groupVersion": format!("{group}/{version}"), "version": version});
                    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        _ => {
            let group_version = path.strip_prefix("/apis/")?;
            (group_version.matches('/').count() == 1
                && kinds.iter().any(|k| k.api_version == group_version))
            .then(|| resources(group_version))
        }
    }
}

fn respond(state: &mut State, request: &Request) -> (u16, Value) {
    if let Some(document) = discovery(&request.path, &state.custom) {
        return (200, document);
    }
    if request.path == "/version" {
        return (
            200,
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0"}),
        );
    }
    let (plural, namespace, one) = parse(&request.path);
    if state
        .forbidden
        .contains(&(request.method.clone(), plural.clone()))
    {
        let verb = match request.method.as_str() {
            "GET" if one => "get",
            "GET" => "list",
            "PATCH" => "patch",
            "DELETE" => "delete",
            other => other,
        };
        return status(
            403,
            "Forbidden",
            &format!(
                "{plural} is forbidden: User \"dev\" cannot {verb} resource \"{plural}\" in the namespace \"{}\"",
                namespace.clone().unwrap_or_default()
            ),
            json!({}),
        );
    }
    let key = request.path.clone();
    match (request.method.as_str(), one) {
        ("GET", true) => match state.objects.get(&key) {
            Some(v) => (200, v.clone()),
            None => not_found(request.name()),
        },
        ("GET", false) => {
            let prefix = format!("{}/", request.path);
            let all_namespaces = namespace.is_none() && plural != "namespaces";
            let items: Vec<Value> = state
                .objects
                .iter()
                .filter(|(k, _)| {
                    if all_namespaces {
                        k.split('/').rev().nth(1) == Some(plural.as_str())
                    } else {
                        k.starts_with(&prefix) && !k[prefix.len()..].contains('/')
                    }
                })
                .map(|(_, v)| v.clone())
                .filter(|v| selected(v, &request.query))
                .collect();
            (
                200,
                json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
        ("PATCH", true) => apply(state, request, &plural),
        ("DELETE", true) => match state.objects.remove(&key) {
            Some(v) => (200, v),
            None => not_found(request.name()),
        },
        _ => status(405, "MethodNotAllowed", "not in the fake", json!({})),
    }
}

fn not_found(name: &str) -> (u16, Value) {
    status(
        404,
        "NotFound",
        &format!("\"{name}\" not found"),
        json!({"name": name}),
    )
}

/// Whether `v` matches the request's label selector (`a=b,c=d`) and field selector
/// (`involvedObject.name=x`).
fn selected(v: &Value, query: &BTreeMap<String, String>) -> bool {
    let labels = query.get("labelSelector").map(String::as_str).unwrap_or("");
    let fields = query.get("fieldSelector").map(String::as_str).unwrap_or("");
    let label_ok = labels.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, want) = pair.split_once('=').unwrap_or((pair, ""));
        v.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            == Some(want)
    });
    let field_ok = fields.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, want) = pair.split_once('=').unwrap_or((pair, ""));
        let pointer = format!("/{}", k.replace('.', "/"));
        v.pointer(&pointer).and_then(Value::as_str) == Some(want)
    });
    label_ok && field_ok
}

/// A server-side apply: checks what a real server refuses, merges onto the live object
/// (whose status and server fields stay), stores it unless a dry run, and plays the
/// controller.
fn apply(state: &mut State, request: &Request, plural: &str) -> (u16, Value) {
    let applied = request.body.clone().unwrap_or(Value::Null);
    let name = request.name().to_owned();
    let force = request.query.get("force").map(String::as_str) == Some("true");
    if let Some((field, manager)) = state.owned_by_others.get(&request.path).cloned()
        && !force
    {
        return status(
            409,
            "Conflict",
            &format!("Apply failed with 1 conflict: conflict with \"{manager}\": {field}"),
            json!({"causes": [{"reason": "FieldManagerConflict",
                               "message": format!("conflict with \"{manager}\""), "field": field}]}),
        );
    }
    let live = state.objects.get(&request.path).cloned();
    if let Some(live) = &live {
        let changed = |pointer: &str| live.pointer(pointer) != applied.pointer(pointer);
        if plural == "jobs" && changed("/spec/template") {
            return status(
                422,
                "Invalid",
                &format!(
                    "Job.batch \"{name}\" is invalid: spec.template: Invalid value: field is immutable"
                ),
                json!({}),
            );
        }
        if plural == "statefulsets" && changed("/spec/volumeClaimTemplates") {
            return status(
                422,
                "Invalid",
                &format!(
                    "StatefulSet.apps \"{name}\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                ),
                json!({}),
            );
        }
    }
    let mut result = applied.clone();
    let same = live.as_ref().is_some_and(|l| {
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("status");
                m.remove("metadata");
            }
            v
        };
        strip(l) == strip(&applied)
            && l.pointer("/metadata/labels") == applied.pointer("/metadata/labels")
    });
    let generation = live
        .as_ref()
        .and_then(|l| l.pointer("/metadata/generation").and_then(Value::as_u64))
        .unwrap_or(0)
        + u64::from(!same);
    let version = match &live {
        Some(l) if same => l["metadata"]["resourceVersion"].clone(),
        _ => json!((state.version + 1).to_string()),
    };
    let meta = &mut result["metadata"];
    meta["uid"] = json!(format!("uid-{name}"));
    meta["resourceVersion"] = version;
    meta["generation"] = json!(generation);
    meta["managedFields"] = json!([{"manager": "datasurface", "operation": "Apply"}]);
    if let Some(status) = live.as_ref().and_then(|l| l.get("status")) {
        result["status"] = status.clone();
    }
    if request.query.get("dryRun").map(String::as_str) == Some("All") {
        return (200, result);
    }
    state.version += 1;
    controller(state, plural, &name, &mut result);
    state.objects.insert(request.path.clone(), result.clone());
    (200, result)
}

/// What the controllers make of a stored workload: ready, complete or failed.
fn controller(state: &State, plural: &str, name: &str, object: &mut Value) {
    if state.pending.contains(name) {
        return;
    }
    let generation = object["metadata"]["generation"].clone();
    let replicas = object
        .pointer("/spec/replicas")
        .cloned()
        .unwrap_or(json!(1));
    match plural {
        "statefulsets" => {
            object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                                      "readyReplicas": replicas, "updatedReplicas": replicas});
        }
        "deployments" => {
            object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                                      "updatedReplicas": replicas, "availableReplicas": replicas,
                                      "readyReplicas": replicas});
        }
        "jobs" if state.failing.contains(name) => {
            object["status"] = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
        }
        "jobs" => {
            object["status"] =
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
        }
        _ => {}
    }
}
