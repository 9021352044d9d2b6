-- The Serving area (app/src/serving).

-- It names the registered version each service runs by its model URI.
CREATE INDEX mlflow_model_versions_source ON mlflow_model_versions (source);

-- What each service served, and how, from the first time Gantry saw it: a row per change
-- seen through the watches (made in Gantry or by anyone else), so "what served when" is
-- answered after the ReplicaSets are gone. A service's last row says "removed" once it is.
CREATE TABLE serving_history (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,                    -- UTC, YYYY-MM-DDTHH:MM:SSZ, when Gantry saw it
    kind TEXT NOT NULL,                  -- InferenceService or Deployment
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    actor TEXT NOT NULL,                 -- the object's last field manager (gantry:<user> for Gantry's)
    change TEXT NOT NULL,                -- what changed, in words
    model TEXT NOT NULL,                 -- what it served after the change
    image TEXT NOT NULL,
    revision BIGINT NOT NULL,
    replicas INTEGER NOT NULL,
    autoscaling TEXT NOT NULL            -- empty when no HPA
);
CREATE INDEX serving_history_service ON serving_history (namespace, name, kind, id);
CREATE INDEX serving_history_model ON serving_history (model, id);
