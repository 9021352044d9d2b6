-- The jobs list reads the gone jobs newest first, and the history writer the rows still in
-- the cluster: both by deleted_at.
CREATE INDEX jobs_by_deleted ON jobs (deleted_at, created_at);
