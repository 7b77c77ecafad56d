"""Load the DAG files of a folder with a real Airflow DagBag; print, as JSON, what the
tests assert: import errors, and per DAG its schedule, run limits and tasks in order."""

import json
import os
import sys
import tempfile

folder = sys.argv[1]
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"

import airflow  # noqa: E402

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3

    bag = DagBag(dag_folder=folder)
except ImportError:
    from airflow.models import DagBag  # Airflow 2

    bag = DagBag(dag_folder=folder, include_examples=False)


def in_order(dag):
    """Task ids in dependency order (ties by id)."""
    done, order = set(), []
    tasks = {t.task_id: t for t in dag.tasks}
    while len(order) < len(tasks):
        ready = sorted(
            tid for tid, t in tasks.items() if tid not in done and set(t.upstream_task_ids) <= done
        )
        if not ready:
            raise SystemExit(f"{dag.dag_id}: a cycle")
        done.update(ready)
        order.extend(ready)
    return order


def schedule(dag):
    """The schedule as the DAG file gave it (Airflow 3 keeps `schedule`, 2 `schedule_interval`)."""
    value = getattr(dag, "schedule", None)
    if not isinstance(value, str):
        value = getattr(dag, "schedule_interval", None)
    return value if isinstance(value, str) else str(value)


report = {
    "airflow": airflow.__version__,
    "import_errors": {os.path.basename(k): str(v) for k, v in bag.import_errors.items()},
    "dags": {},
}
for dag_id, dag in sorted(bag.dags.items()):
    report["dags"][dag_id] = {
        "file": os.path.basename(dag.fileloc),
        "schedule": schedule(dag),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "tasks": in_order(dag),
        "operators": sorted({type(t).__name__ for t in dag.tasks}),
    }
print(json.dumps(report, indent=1, sort_keys=True))
