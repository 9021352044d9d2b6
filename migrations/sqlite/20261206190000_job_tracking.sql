-- Jobs launched with tracking on (app/src/jobs/tracking.rs): Gantry creates the job's MLflow
-- run, which records the Job, and an API token for its pods that reaches only MLflow's
-- routes in the job's namespace and is revoked when the Job ends.

ALTER TABLE mlflow_runs ADD COLUMN job_namespace TEXT;
ALTER TABLE mlflow_runs ADD COLUMN job_name TEXT;
ALTER TABLE mlflow_runs ADD COLUMN job_uid TEXT;
CREATE INDEX mlflow_runs_by_job ON mlflow_runs (job_uid);

-- Set: the token reaches MLflow's routes in this namespace only (a job's pods).
ALTER TABLE api_tokens ADD COLUMN namespace TEXT;
-- Set: the Job whose end revokes the token.
ALTER TABLE api_tokens ADD COLUMN job_uid TEXT;
CREATE INDEX api_tokens_by_job ON api_tokens (job_uid);
