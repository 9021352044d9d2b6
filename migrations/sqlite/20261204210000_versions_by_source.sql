-- The Serving area names the registered version each service runs by its model URI.
CREATE INDEX mlflow_model_versions_source ON mlflow_model_versions (source);
