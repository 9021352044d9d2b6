-- The jobs list reads the key metric of the newest tracked runs (those with a Job) on every
-- build of the list: newest first by start, without sorting every run Gantry holds.
CREATE INDEX mlflow_runs_tracked ON mlflow_runs (start_ms) WHERE job_uid IS NOT NULL;
