# Gantry's optimisation job (app/src/models/optimise.rs): converts a registered model version
# to TensorFlow Lite, quantised, and registers the result as a version of the target model
# whose tag gantry.parent names the version it was made from. It runs in an image with
# tensorflow and mlflow-skinny; MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_TRACKING_TOKEN
# come from the job's tracking, the rest from the variables below.
import os
import tempfile

import mlflow
import tensorflow as tf

source = os.environ["GANTRY_SOURCE_MODEL_URI"]
target = os.environ["GANTRY_TARGET_MODEL"]
quantise = os.environ.get("GANTRY_QUANTISE", "int8")

with mlflow.start_run() as run:
    mlflow.log_params({"source": source, "quantise": quantise})
    local = mlflow.artifacts.download_artifacts(source)
    saved = next(
        (root for root, _, files in os.walk(local) if "saved_model.pb" in files), None
    )
    if saved is None:
        raise SystemExit(f"{source} holds no TensorFlow SavedModel (saved_model.pb)")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    if quantise == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantise == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    out = os.path.join(tempfile.mkdtemp(), "model.tflite")
    with open(out, "wb") as f:
        f.write(converter.convert())
    mlflow.log_metric("size_bytes", os.path.getsize(out))
    mlflow.log_artifact(out, "model")
    mlflow.register_model(
        f"runs:/{run.info.run_id}/model", target, tags={"gantry.parent": source}
    )
