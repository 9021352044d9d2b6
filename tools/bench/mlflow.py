"""The registry's benchmark client (run by tools/bench/mlflow.sh): plain HTTP as the MLflow
client sends it, timed per request. Prints one line per figure."""

import os
import sqlite3
import statistics
import sys
import threading
import time

import requests

BASE = os.environ["GANTRY_URL"]
AUTH = {"Authorization": f"Bearer {os.environ['GANTRY_TOKEN']}"}
PID = os.environ["GANTRY_PID"]
API = f"{BASE}/api/2.0/mlflow"
session = requests.Session()
session.headers.update(AUTH)


def call(method, path, **kw):
    response = session.request(method, f"{API}/{path}", **kw)
    response.raise_for_status()
    return response.json() if response.content else {}


def memory_kib():
    fields = {}
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = int(value.split()[0]) if value.strip().endswith("kB") else 0
    return fields["VmRSS"], fields["VmHWM"]


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(calls, what, n):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        calls(i)
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{what}: p50 {percentile(samples, 50):.1f} ms, p95 {percentile(samples, 95):.1f} ms, "
          f"p99 {percentile(samples, 99):.1f} ms over {n}")
    return samples


experiment = call("POST", "experiments/create", json={"name": "bench"})["experiment_id"]
run = call("POST", "runs/create", json={"experiment_id": experiment, "start_time": 0})["run"]["info"]["run_id"]

# ONLY=artifact, ONLY=log-batch or ONLY=runs-search: that part alone.
ONLY = os.environ.get("ONLY")


# 1. A large artifact, streamed up and down, first: Gantry's memory before it is its memory
#    at rest. ONLY=artifact stops after it (`make bench-mlflow-s3` measures the S3 store so).
def artifact():
    mib = int(os.environ.get("ARTIFACT_MIB", "1024"))
    chunk = os.urandom(1024 * 1024)
    rss_before, _ = memory_kib()

    def body():
        for _ in range(mib):
            yield chunk

    path = f"{BASE}/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/model/weights.bin"
    started = time.perf_counter()
    session.put(path, data=body()).raise_for_status()
    up = time.perf_counter() - started
    _, peak_up = memory_kib()
    started = time.perf_counter()
    received = 0
    with session.get(path, stream=True) as response:
        response.raise_for_status()
        for part in response.iter_content(1024 * 1024):
            received += len(part)
    down = time.perf_counter() - started
    rss_after, peak = memory_kib()
    assert received == mib * 1024 * 1024, received
    print(f"artifact of {mib} MiB: up {mib / up:.0f} MiB/s, down {mib / down:.0f} MiB/s; Gantry's RSS "
          f"{rss_before / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB (growth {(peak - rss_before) / 1024:.1f} MiB)")


# 6. (defined here, run last or alone) An experiment of 100 runs, each with 5 metrics of
#    2,000 steps (1,000,000 points, written straight into the database): a page of runs/search
#    and runs/get carry each run's latest metrics, which must not cost a read of every point.
def runs_search():
    searched = call("POST", "experiments/create", json={"name": "bench-search"})["experiment_id"]
    db = sqlite3.connect(os.environ["GANTRY_DB"], timeout=30)
    with db:
        ids = [f"{i:032x}" for i in range(100)]
        db.executemany(
            "INSERT INTO mlflow_runs (id, experiment_id, name, user_id, status, start_ms, created_by) "
            "VALUES (?, ?, ?, 'bench', 'FINISHED', ?, 'bench')",
            [(run_id, int(searched), f"sweep-{i}", i) for i, run_id in enumerate(ids)],
        )
        db.executemany(
            "INSERT INTO mlflow_metrics (run_id, key, step, timestamp_ms, value) VALUES (?, ?, ?, ?, ?)",
            ((run_id, f"metric-{k}", step, step, 1 / (1 + step))
             for run_id in ids for k in range(5) for step in range(2000)),
        )
    db.close()
    found = call("POST", "runs/search", json={"experiment_ids": [searched], "max_results": 100})["runs"]
    assert len(found) == 100 and len(found[0]["data"]["metrics"]) == 5, found[0]
    timed(lambda i: call("POST", "runs/search", json={"experiment_ids": [searched], "max_results": 100}),
          "runs/search, a page of 100 runs with 5 metrics of 2,000 steps each (1,000,000 points)", 50)
    timed(lambda i: call("POST", "runs/search", json={"experiment_ids": [searched], "max_results": 100,
                                                      "order_by": ["metrics.`metric-3` DESC"]}),
          "  the same ordered by a metric (its latest value in each of the 100 runs)", 50)
    timed(lambda i: call("GET", "runs/get", params={"run_id": ids[i]}),
          "runs/get, a run of 5 metrics × 2,000 steps", 100)

if ONLY == "runs-search":
    runs_search()
    sys.exit(0)

if ONLY in (None, "artifact"):
    artifact()
if ONLY == "artifact":
    sys.exit(0)

# 2. log-batch of 1,000 metrics (one step of 1,000 keys), to one run that grows by 1,000
#    points a batch: the last 100 batches are timed again on their own, where the run's
#    points are most.
BATCHES = int(os.environ.get("BATCHES", "300"))

def batch(i):
    metrics = [{"key": f"m{k}", "value": k * 0.5, "timestamp": 1, "step": i} for k in range(1000)]
    call("POST", "runs/log-batch", json={"run_id": run, "metrics": metrics})

samples = timed(batch, "log-batch of 1,000 metrics", BATCHES)
last = sorted(samples[-100:])
print(f"  the last 100 (run of {(BATCHES - 100) * 1000:,} to {BATCHES * 1000:,} points): "
      f"p50 {percentile(last, 50):.1f} ms, p95 {percentile(last, 95):.1f} ms")
if ONLY == "log-batch":
    sys.exit(0)

# 3. 50 clients, each logging one metric per step to its own run.
CLIENTS, STEPS = 50, 100
runs = [call("POST", "runs/create", json={"experiment_id": experiment})["run"]["info"]["run_id"] for _ in range(CLIENTS)]
latencies, lock = [], threading.Lock()

def client(run_id):
    own = requests.Session()
    own.headers.update(AUTH)
    mine = []
    for step in range(STEPS):
        started = time.perf_counter()
        own.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "loss", "value": 1 / (step + 1),
                                                 "timestamp": step, "step": step}).raise_for_status()
        mine.append((time.perf_counter() - started) * 1000)
    with lock:
        latencies.extend(mine)

started = time.perf_counter()
threads = [threading.Thread(target=client, args=(r,)) for r in runs]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
print(f"{CLIENTS} clients × {STEPS} log-metric: {len(latencies) / elapsed:.0f} requests/s, "
      f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")

# 4. Searches over 10,000 registered models with 10 versions each, written straight into the
#    database (through the API it would take minutes; the searches are what is measured).
db = sqlite3.connect(os.environ["GANTRY_DB"], timeout=30)
with db:
    db.executemany(
        "INSERT INTO mlflow_registered_models (name, namespace, description, created_ms, updated_ms, created_by) "
        "VALUES (?, 'bench', '', 0, 0, 'bench')",
        [(f"model-{i:05}",) for i in range(10_000)],
    )
    ids = [row[0] for row in db.execute("SELECT id FROM mlflow_registered_models WHERE name LIKE 'model-%'")]
    db.executemany(
        "INSERT INTO mlflow_model_versions (model, version, source, created_ms, updated_ms, created_by) "
        "VALUES (?, ?, 's3://bench/m', 0, 0, 'bench')",
        [(m, v) for m in ids for v in range(1, 11)],
    )
db.close()

timed(lambda i: call("GET", "registered-models/search",
                     params={"filter": f"name LIKE 'model-{i % 100:02}%'", "max_results": 100}),
      "registered-models/search (10,000 models, LIKE, page of 100)", 50)
timed(lambda i: call("GET", "registered-models/get", params={"name": f"model-{i:05}"}),
      "registered-models/get", 100)
timed(lambda i: call("GET", "model-versions/search",
                     params={"filter": f"name='model-{i:05}'"}),
      "model-versions/search (100,000 versions, by name)", 100)
timed(lambda i: call("GET", "model-versions/search",
                     params={"filter": "source = 's3://bench/none'", "max_results": 100}),
      "model-versions/search (100,000 versions, by source: a full scan)", 20)

# 5. A run with 100,000 points of one metric: its page's answer (the chart's two statements,
#    600 points averaged by step, drawn to SVG), as the Runs page and the JSON API get it.
chart_run = call("POST", "runs/create", json={"experiment_id": experiment})["run"]["info"]["run_id"]
for b in range(100):
    points = [{"key": "loss", "value": 1 / (1 + b * 1000 + k), "timestamp": 1, "step": b * 1000 + k}
              for k in range(1000)]
    call("POST", "runs/log-batch", json={"run_id": chart_run, "metrics": points})
page = session.get(f"{BASE}/api/v1/runs/{chart_run}")
page.raise_for_status()
sent = len(page.json()["charts"][0]["series"][0]["points"])
timed(lambda i: session.get(f"{BASE}/api/v1/runs/{chart_run}").raise_for_status(),
      f"a run's page, 100,000 points of one metric ({sent} points sent, {len(page.content) / 1024:.0f} KiB)", 50)

runs_search()
