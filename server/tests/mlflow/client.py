"""The real MLflow client (mlflow-skinny 3.x) against Gantry: the training-code flow, the
registry calls, error cases, and the namespace rules. Run by the integration tests
(server/tests/integration/models.rs) with MLFLOW_TRACKING_URI and three users' API tokens in the environment:
ALICE_TOKEN (data scientist, team-a), BOB_TOKEN (data scientist, team-b), VERA_TOKEN
(viewer, team-a). Prints one line per check; any failure raises."""

import math
import os
import tempfile

import mlflow
import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def as_user(token):
    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    if token is None:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    else:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    return MlflowClient()


def refused(code, call):
    try:
        call()
    except MlflowException as e:
        assert e.error_code == code, f"expected {code}, got {e.error_code}: {e}"
        return
    raise AssertionError(f"expected {code}, but the call succeeded")


def check(what):
    print(f"ok: {what}", flush=True)


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input]


alice = as_user(os.environ["ALICE_TOKEN"])
mlflow.set_experiment("model-training")
with mlflow.start_run() as run:
    mlflow.log_param("epochs", "100")
    mlflow.log_param("epochs", "100")  # a retry: the same value is fine
    refused("INVALID_PARAMETER_VALUE", lambda: mlflow.log_param("epochs", "200"))
    mlflow.log_metric("accuracy", 0.90, step=0)
    mlflow.log_metric("accuracy", 0.93, step=1)
    mlflow.log_metrics({"loss": float("nan"), "lr": 0.01}, step=2)
    info = mlflow.pyfunc.log_model(
        name="model", python_model=Doubler(), pip_requirements=["mlflow-skinny"]
    )
run_id = run.info.run_id
check("set_experiment, start_run, log_param, log_metric, log_metrics, pyfunc.log_model")

got = alice.get_run(run_id)
assert got.info.status == "FINISHED", got.info.status
assert got.data.params["epochs"] == "100"
assert got.data.metrics["accuracy"] == 0.93
assert math.isnan(got.data.metrics["loss"])
history = alice.get_metric_history(run_id, "accuracy")
assert [(m.step, m.value) for m in history] == [(0, 0.90), (1, 0.93)], history
check("get_run (latest metrics, NaN kept), get_metric_history")

# A sweep of three more runs, searched as training code searches: a filter on metrics,
# params and attributes, ordered by a metric; a run without the metric comes last.
sweep = {}
for lr, accuracy in [("0.1", 0.80), ("0.01", 0.95), ("0.001", None)]:
    with mlflow.start_run(run_name=f"lr-{lr}") as r:
        mlflow.log_param("lr", lr)
        if accuracy is not None:
            mlflow.log_metric("accuracy", accuracy)
    sweep[lr] = r.info.run_id
experiment_id = run.info.experiment_id
best = mlflow.search_runs(
    [experiment_id],
    filter_string="metrics.accuracy > 0.85 AND params.lr LIKE '0.0%' AND attributes.status = 'FINISHED'",
    output_format="list",
)
assert [r.info.run_id for r in best] == [sweep["0.01"]], best
ordered = mlflow.search_runs(
    [experiment_id],
    filter_string="params.lr != ''",
    order_by=["metrics.accuracy DESC"],
    output_format="list",
)
assert [r.info.run_id for r in ordered] == [sweep["0.01"], sweep["0.1"], sweep["0.001"]], ordered
# A page's params and metrics are read for all its runs at once: each run keeps its own.
assert [r.data.params["lr"] for r in ordered] == ["0.01", "0.1", "0.001"], ordered
assert [r.data.metrics.get("accuracy") for r in ordered] == [0.95, 0.80, None], ordered
refused(
    "INVALID_PARAMETER_VALUE",
    lambda: mlflow.search_runs([experiment_id], filter_string="metrics.accuracy ~ 1"),
)
check("search_runs: filter on metrics, params and attributes; order_by a metric")

logged = mlflow.get_logged_model(info.model_id)
assert "READY" in str(logged.status), logged.status
check("logged model READY after upload")

v1 = mlflow.register_model(f"runs:/{run_id}/model", "fraud-detector")
v2 = mlflow.register_model(f"runs:/{run_id}/model", "fraud-detector")
assert (v1.version, v2.version) == ("1", "2"), (v1.version, v2.version)
assert v1.status == "READY"
check("register_model twice: versions 1 and 2, READY")

alice.set_registered_model_alias("fraud-detector", "champion", "1")
assert alice.get_model_version_by_alias("fraud-detector", "champion").version == "1"
refused("INVALID_PARAMETER_VALUE", lambda: alice.get_model_version_by_alias("fraud-detector", "nobody"))
check("aliases")

alice.transition_model_version_stage("fraud-detector", "2", "Production")
latest = alice.get_latest_versions("fraud-detector", stages=["Production"])
assert [v.version for v in latest] == ["2"], latest
every_stage = alice.get_registered_model("fraud-detector").latest_versions
assert [(v.version, v.current_stage) for v in every_stage] == [("1", "None"), ("2", "Production")], every_stage
check("transition_model_version_stage, get_latest_versions")

alice.set_registered_model_tag("fraud-detector", "team", "risk")
alice.set_model_version_tag("fraud-detector", "1", "validated", "yes")
assert alice.get_registered_model("fraud-detector").tags == {"team": "risk"}
assert alice.get_model_version("fraud-detector", "1").tags == {"validated": "yes"}
found = alice.search_registered_models(filter_string="name LIKE 'fraud%'")
assert [m.name for m in found] == ["fraud-detector"], found
versions = alice.search_model_versions("name='fraud-detector'")
assert sorted(v.version for v in versions) == ["1", "2"], versions
check("tags, search_registered_models, search_model_versions")

with tempfile.TemporaryDirectory() as where:
    path = mlflow.artifacts.download_artifacts("models:/fraud-detector@champion", dst_path=where)
    assert os.path.exists(os.path.join(path, "MLmodel")), os.listdir(path)
loaded = mlflow.pyfunc.load_model("models:/fraud-detector/1")
assert list(loaded.predict([1, 2, 3])) == [2, 4, 6]
check("download_artifacts(models:/…@champion), pyfunc.load_model(…).predict")

alice.delete_model_version("fraud-detector", "2")
assert [v.version for v in alice.search_model_versions("name='fraud-detector'")] == ["1"]
refused("RESOURCE_DOES_NOT_EXIST", lambda: alice.get_registered_model("no-such-model"))
refused("RESOURCE_ALREADY_EXISTS", lambda: alice.create_registered_model("fraud-detector"))
check("delete_model_version; unknown and duplicate models refused with MLflow's codes")

bob = as_user(os.environ["BOB_TOKEN"])
refused("PERMISSION_DENIED", lambda: bob.get_registered_model("fraud-detector"))
refused("PERMISSION_DENIED", lambda: bob.get_run(run_id))
assert bob.search_registered_models() == []
check("a team-b data scientist can neither read nor find team-a's models and runs")

vera = as_user(os.environ["VERA_TOKEN"])
assert vera.get_registered_model("fraud-detector").name == "fraud-detector"
refused("PERMISSION_DENIED", lambda: vera.create_registered_model("viewer-model"))
refused("PERMISSION_DENIED", lambda: vera.set_registered_model_alias("fraud-detector", "x", "1"))
check("a team-a viewer reads, and may not write")

nobody = as_user(None)
refused("UNAUTHENTICATED", lambda: nobody.get_registered_model("fraud-detector"))
os.environ["MLFLOW_TRACKING_USERNAME"] = "alice"
os.environ["MLFLOW_TRACKING_PASSWORD"] = os.environ["ALICE_TOKEN"]
assert MlflowClient().get_registered_model("fraud-detector").name == "fraud-detector"
check("no credentials: UNAUTHENTICATED; Basic with the API token as the password works")
print("all MLflow client checks passed")
