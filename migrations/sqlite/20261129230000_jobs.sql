-- Training job history: one row per Job Gantry has seen (launched here or elsewhere),
-- kept after the Job is gone from the cluster.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,          -- the Job's metadata.uid
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    launched_by TEXT,                  -- Gantry username; NULL for Jobs made elsewhere
    form TEXT,                         -- the launch form as JSON (for clone and re-run)
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    status TEXT NOT NULL,              -- Pending, Running, Succeeded, Failed, Suspended
    reason TEXT,                       -- why it failed
    gpus_per_pod INTEGER NOT NULL DEFAULT 0,
    gpu_resource TEXT,
    gpu_model TEXT,
    completions INTEGER NOT NULL DEFAULT 1,
    deleted_at TEXT                    -- when the Job left the cluster
);
CREATE INDEX jobs_by_namespace ON jobs (namespace, created_at);

-- The last lines of each pod's log, captured when its job finished, so they outlive the pods.
CREATE TABLE job_logs (
    job_uid TEXT NOT NULL REFERENCES jobs (uid),
    pod TEXT NOT NULL,
    lines TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    PRIMARY KEY (job_uid, pod)
);

-- Launch forms saved by their owner to start from later.
CREATE TABLE job_templates (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    form TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner, name)
);
