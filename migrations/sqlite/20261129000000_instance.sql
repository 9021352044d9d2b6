-- One row describing this installation: when its database was created and which version of
-- Gantry last started against it, so an upgrade or a downgrade shows in the start-up log.
CREATE TABLE instance (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    created_at TEXT NOT NULL,
    last_started_version TEXT NOT NULL,
    last_started_at TEXT NOT NULL
);
