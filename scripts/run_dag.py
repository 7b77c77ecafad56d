"""Run one DAG of a folder with Airflow's own `dag.test()` (what `airflow dags test` runs),
its KubernetesPodOperator pods launched by a stand-in for a Kubernetes cluster.

The DAG, its operator, Airflow's task states and the provider's whole pod life cycle
(create, wait to start, follow the logs, wait for the end, skip or fail on the exit code,
delete) are the real thing. Only the cluster is not: a small Kubernetes API on 127.0.0.1
keeps the pods the operator creates and runs each pod's container as a local process of
the image's entrypoint, with the pod's arguments and an environment built from the pod's
`env` entries, each `secretKeyRef` resolved from the cluster's Secrets. A Secret or key
that is missing leaves the pod Pending with `CreateContainerConfigError`, as the kubelet
does; the operator then fails the task when its startup timeout runs out.

    python run_dag.py --dags DIR --home DIR --cluster CLUSTER.json --report REPORT.json DAG_ID

CLUSTER.json: {"images": {image: local executable of its entrypoint},
               "secrets": {namespace: {secret: {key: value}}},
               "network": {variable: value}}
`network` stands in for the cluster's network: a pod reaches the model's database hosts by
their Service names; a local process is told where they are instead (locations only, no
credentials). The task's log is this program's output; REPORT.json gets the DAG run's
state, each task's state and tries, and each pod as the cluster saw it (never a secret
value). A request the stand-in cannot serve faithfully is refused, and this program then
exits 1.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

parser = argparse.ArgumentParser()
parser.add_argument("--dags", required=True)
parser.add_argument("--home", required=True)
parser.add_argument("--cluster", required=True)
parser.add_argument("--report", required=True)
parser.add_argument("dag_id")
args = parser.parse_args()
with open(args.cluster) as f:
    cluster = json.load(f)


class Unsupported(Exception):
    """A pod or request the stand-in cannot treat as a cluster would."""


refused = []  # what the stand-in refused; any makes this program fail


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Pod:
    """A pod of the stand-in cluster: its manifest, and its one container as a process."""

    def __init__(self, manifest):
        self.manifest = manifest
        self.changed = threading.Condition()
        self.lines = []  # (timestamp, text) of the container's output
        self.exit_code = None
        self.waiting = None  # (reason, message) while the container cannot start
        self.process = None
        self.started = now()
        self.finished = None
        spec = manifest["spec"]
        [container] = [c for c in spec["containers"] if c["name"] == "base"]
        self.container = container
        manifest["metadata"].setdefault("uid", manifest["metadata"]["name"])
        manifest["metadata"]["creationTimestamp"] = stamp(self.started)
        self.events = []
        self.env, missing = self.environment(container)
        if missing:
            self.cannot_start("CreateContainerConfigError", missing)
        else:
            self.start()

    def cannot_start(self, reason, message):
        """The container waits, and the kubelet says why in an event, as it does."""
        self.waiting = (reason, message)
        meta = self.manifest["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        self.events.append(
            {
                "metadata": {"name": f"{name}.1", "namespace": namespace, "uid": f"{name}.1"},
                "involvedObject": {
                    "kind": "Pod",
                    "name": name,
                    "namespace": namespace,
                    "fieldPath": "spec.containers{base}",
                },
                "type": "Warning",
                "reason": "Failed",
                "message": f"Error: {message}",
            }
        )

    def environment(self, container):
        """The container's environment, or why the kubelet cannot build it."""
        if container.get("envFrom") or container.get("command"):
            raise Unsupported("only `env` entries and the image's entrypoint are supported")
        namespace = self.manifest["metadata"]["namespace"]
        secrets = cluster["secrets"].get(namespace, {})
        env = {}
        for entry in container.get("env") or []:
            if "value" in entry:
                env[entry["name"]] = entry["value"]
                continue
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                raise Unsupported(f"only `secretKeyRef` is resolved: {entry}")
            secret = secrets.get(ref["name"])
            if secret is None or ref["key"] not in secret:
                if ref.get("optional"):
                    continue
                if secret is None:
                    return None, f'secret "{ref["name"]}" not found'
                return None, f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}"
            env[entry["name"]] = secret[ref["key"]]
        return env, None

    def start(self):
        entrypoint = cluster["images"].get(self.container["image"])
        if entrypoint is None:
            self.cannot_start("ErrImageNeverPull", f"{self.container['image']} is not on the node")
            return
        self.process = subprocess.Popen(
            [entrypoint, *self.container.get("args", [])],
            env={**cluster["network"], **self.env},
            cwd=tempfile.mkdtemp(prefix="pod-"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self.follow, daemon=True).start()

    def follow(self):
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append((now(), raw.decode("utf-8", "backslashreplace").rstrip("\n")))
                self.changed.notify_all()
        code = self.process.wait()
        with self.changed:
            self.exit_code, self.finished = code, now()
            self.changed.notify_all()

    def delete(self):
        if self.process and self.exit_code is None:
            self.process.terminate()

    def status(self):
        container = {
            "name": "base",
            "image": self.container["image"],
            "imageID": "",
            "ready": False,
            "restartCount": 0,
        }
        if self.waiting:
            phase = "Pending"
            container["state"] = {"waiting": {"reason": self.waiting[0], "message": self.waiting[1]}}
        elif self.exit_code is None:
            phase, container["ready"] = "Running", True
            container["state"] = {"running": {"startedAt": stamp(self.started)}}
        else:
            phase = "Succeeded" if self.exit_code == 0 else "Failed"
            container["state"] = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": "Completed" if self.exit_code == 0 else "Error",
                    "startedAt": stamp(self.started),
                    "finishedAt": stamp(self.finished),
                }
            }
        return {
            "phase": phase,
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [container],
        }

    def resource(self):
        with self.changed:
            return {**self.manifest, "status": self.status()}

    def report(self):
        return {
            "name": self.manifest["metadata"]["name"],
            "namespace": self.manifest["metadata"]["namespace"],
            "image": self.container["image"],
            "args": self.container.get("args", []),
            "env": sorted(e["name"] for e in self.container.get("env") or []),
            "waiting": self.waiting and ": ".join(self.waiting),
            "exit_code": self.exit_code,
        }


pods = {}  # (namespace, name) -> Pod, while the pod exists
launched = []  # every pod ever created, for the report


def selected(labels, selector):
    """Whether labels match a label selector of `k=v`, `k!=v`, `k` and `!k` terms."""
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def flag(query, name):
    """A boolean query parameter, read as the API server reads it (Go's ParseBool)."""
    return query.get(name) in ("1", "t", "T", "true", "True", "TRUE")


class Api(BaseHTTPRequestHandler):
    """The part of the Kubernetes API the KubernetesPodOperator uses."""

    def log_message(self, *_):
        pass

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "namespaces"] or len(parts) < 5:
            return None, None, (None, None), query
        namespace, kind = parts[3], parts[4]
        name = parts[5] if len(parts) > 5 else None
        sub = parts[6] if len(parts) > 6 else None
        return namespace, kind, (name, sub), query

    def refuse(self, why=None):
        message = f"the stand-in cluster refuses {self.command} {self.path}: {why or 'not served'}"
        print(message, file=sys.stderr, flush=True)
        refused.append(message)
        self.failure(422, "Invalid", message)

    def failure(self, code, reason, message):
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
        self.send(code, {**status, "code": code, "reason": reason, "message": message})

    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def pod(self, namespace, name):
        pod = pods.get((namespace, name))
        if pod is None:
            self.failure(404, "NotFound", f'pods "{name}" not found')
        return pod

    def do_GET(self):
        namespace, kind, (name, sub), query = self.route()
        if kind == "pods" and name is None:
            selector = query.get("labelSelector")
            items = [
                p.resource()
                for (ns, _), p in list(pods.items())
                if ns == namespace and selected(p.manifest["metadata"].get("labels", {}), selector)
            ]
            self.send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
        elif kind == "pods" and sub is None:
            if pod := self.pod(namespace, name):
                self.send(200, pod.resource())
        elif kind == "pods" and sub == "log":
            if pod := self.pod(namespace, name):
                self.logs(pod, flag(query, "follow"), flag(query, "timestamps"))
        elif kind == "events":
            about = query.get("fieldSelector", "").removeprefix("involvedObject.name=")
            pod = pods.get((namespace, about))
            items = pod.events if pod else []
            self.send(200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": items})
        else:
            self.refuse()

    def logs(self, pod, follow, timestamps):
        """The container's output; when following, until the container has ended."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        sent = 0
        while True:
            with pod.changed:
                while follow and sent == len(pod.lines) and pod.exit_code is None and pod.process:
                    pod.changed.wait()
                lines, sent = pod.lines[sent:], len(pod.lines)
                done = not follow or pod.exit_code is not None or not pod.process
            for t, text in lines:
                prefix = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ ") if timestamps else ""
                self.wfile.write(f"{prefix}{text}\n".encode())
            self.wfile.flush()
            if done and sent == len(pod.lines):
                return

    def do_POST(self):
        namespace, kind, (name, _), _ = self.route()
        if kind != "pods" or name is not None:
            return self.refuse()
        manifest = self.body()
        manifest["metadata"]["namespace"] = namespace
        try:
            pod = Pod(manifest)
        except Unsupported as e:
            return self.refuse(e)
        pods[(namespace, manifest["metadata"]["name"])] = pod
        launched.append(pod)
        self.send(201, pod.resource())

    def do_PATCH(self):
        namespace, kind, (name, sub), _ = self.route()
        if kind != "pods" or sub is not None:
            return self.refuse()
        if pod := self.pod(namespace, name):
            labels = self.body().get("metadata", {}).get("labels", {})
            pod.manifest["metadata"].setdefault("labels", {}).update(labels)
            self.send(200, pod.resource())

    def do_DELETE(self):
        namespace, kind, (name, sub), _ = self.route()
        if kind != "pods" or sub is not None:
            return self.refuse()
        if pod := self.pod(namespace, name):
            pod.delete()
            del pods[(namespace, name)]
            self.send(200, pod.resource())


server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()

kubeconfig = os.path.join(args.home, "kubeconfig.json")
with open(kubeconfig, "w") as f:
    json.dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
            ],
            "users": [{"name": "airflow", "user": {}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "airflow"}}],
            "current-context": "stand-in",
        },
        f,
    )
os.environ["KUBECONFIG"] = kubeconfig
os.environ["AIRFLOW_HOME"] = args.home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = args.dags
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
if not os.path.exists(os.path.join(args.home, "airflow.db")):
    migrate = [sys.executable, "-m", "airflow", "db", "migrate"]
    subprocess.run(migrate, check=True, stdout=subprocess.DEVNULL)

import airflow  # noqa: E402

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3

    bag = DagBag(dag_folder=args.dags)
except ImportError:
    from airflow.models import DagBag  # Airflow 2

    bag = DagBag(dag_folder=args.dags, include_examples=False)
if bag.import_errors:
    raise SystemExit(f"import errors: {bag.import_errors}")
dag = bag.dags[args.dag_id]
run = dag.test()
report = {
    "airflow": airflow.__version__,
    "dag_run": str(run.state),
    "tasks": {
        ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
        for ti in run.get_task_instances()
    },
    "pods": [pod.report() for pod in launched],
    "refused": refused,
}
with open(args.report, "w") as f:
    json.dump(report, f, indent=1, sort_keys=True)
server.shutdown()
if refused:
    raise SystemExit("\n".join(refused))
