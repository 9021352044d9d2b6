-- A model's latest version in each stage is one indexed MAX per stage
-- (`store::latest_versions_of`): a model of 100,000 versions is not read whole to show it.
CREATE INDEX mlflow_model_versions_stage ON mlflow_model_versions (model, stage, version);
