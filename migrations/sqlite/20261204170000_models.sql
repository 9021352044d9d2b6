-- The model registry and experiment tracking that MLflow clients talk to (app/src/models).
-- Times are Unix milliseconds (BIGINT), as MLflow sends and reads them. Every experiment and
-- registered model belongs to a Kubernetes namespace: the same access rules as jobs.

CREATE TABLE mlflow_experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE mlflow_experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE mlflow_runs (
    id TEXT PRIMARY KEY,                 -- 32 hex digits
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments (id),
    name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    created_by TEXT NOT NULL             -- the Gantry account that created it
);
CREATE INDEX mlflow_runs_by_experiment ON mlflow_runs (experiment_id, start_ms);

CREATE TABLE mlflow_run_params (
    run_id TEXT NOT NULL REFERENCES mlflow_runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE mlflow_run_tags (
    run_id TEXT NOT NULL REFERENCES mlflow_runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- Every logged point. A repeated point (the client retries, and log_model re-logs a run's
-- metrics) is the same row. NaN is `nan = 1` (SQLite stores a NaN REAL as NULL).
CREATE TABLE mlflow_metrics (
    run_id TEXT NOT NULL REFERENCES mlflow_runs (id),
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    nan BIGINT NOT NULL DEFAULT 0,
    model_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, key, step, timestamp_ms, value, nan, model_id)
);

CREATE TABLE mlflow_run_outputs (
    run_id TEXT NOT NULL REFERENCES mlflow_runs (id),
    model_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id)
);

CREATE TABLE mlflow_run_inputs (
    run_id TEXT NOT NULL REFERENCES mlflow_runs (id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    dataset TEXT NOT NULL,               -- the dataset input as the client sent it (JSON)
    PRIMARY KEY (run_id, name, digest)
);

CREATE TABLE mlflow_logged_models (
    id TEXT PRIMARY KEY,                 -- m-<32 hex>
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments (id),
    name TEXT NOT NULL,
    source_run_id TEXT,
    status TEXT NOT NULL,
    model_type TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL,                -- [{key, value}] as created (JSON)
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX mlflow_logged_models_by_experiment ON mlflow_logged_models (experiment_id, name);

CREATE TABLE mlflow_logged_model_tags (
    model_id TEXT NOT NULL REFERENCES mlflow_logged_models (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_registered_models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE mlflow_registered_model_tags (
    model BIGINT NOT NULL REFERENCES mlflow_registered_models (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, key)
);

CREATE TABLE mlflow_model_versions (
    model BIGINT NOT NULL REFERENCES mlflow_registered_models (id),
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT NOT NULL DEFAULT '',
    run_link TEXT NOT NULL DEFAULT '',
    logged_model_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    stage TEXT NOT NULL DEFAULT 'None',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (model, version)
);

CREATE TABLE mlflow_model_version_tags (
    model BIGINT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, version, key),
    FOREIGN KEY (model, version) REFERENCES mlflow_model_versions (model, version)
);

CREATE TABLE mlflow_aliases (
    model BIGINT NOT NULL REFERENCES mlflow_registered_models (id),
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (model, alias)
);
