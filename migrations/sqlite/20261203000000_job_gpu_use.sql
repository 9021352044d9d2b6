-- What a finished job did with its GPUs, measured from Prometheus once it ended
-- (jobs::gpu_use): kept here because Prometheus forgets after its retention.
ALTER TABLE jobs ADD COLUMN gpu_hours REAL;
ALTER TABLE jobs ADD COLUMN gpu_mean_percent REAL;
-- When it was measured; set with NULL figures when Prometheus had no series for the job,
-- so that it is not asked again.
ALTER TABLE jobs ADD COLUMN gpu_measured_at TEXT;
CREATE INDEX jobs_unmeasured ON jobs (gpu_measured_at, finished_at);
