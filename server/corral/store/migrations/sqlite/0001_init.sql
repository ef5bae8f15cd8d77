-- Corral schema v1 (SQLite). Timestamps are fixed-width ISO-8601 UTC text
-- ('2026-11-23T16:39:29.123456Z') so they sort lexicographically; JSON columns are TEXT.
-- Child rows cascade from their parents, so deleting a workspace or a session removes
-- everything under it; every foreign key has an index so cascades never scan.

CREATE TABLE workspaces (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    runtime          TEXT,
    root_path        TEXT NOT NULL,
    external_ref     TEXT,
    owner_id         TEXT,
    service_name     TEXT,
    execution_policy TEXT NOT NULL DEFAULT 'local',
    status           TEXT NOT NULL DEFAULT 'active',
    kind             TEXT NOT NULL DEFAULT 'project',
    read_only        INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- list_workspaces: updated_at desc, id desc (SQLite walks the index backwards).
CREATE INDEX workspaces_by_updated ON workspaces (updated_at, id);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    parent_session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    subject_ref       TEXT NOT NULL,
    model_ref         TEXT,
    agent_name        TEXT,
    active_agent_name TEXT NOT NULL,
    title             TEXT,
    status            TEXT NOT NULL DEFAULT 'active',
    last_run_at       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, updated_at, id);
CREATE INDEX sessions_by_parent ON sessions (parent_session_id, updated_at, id);

-- run_id is deliberately not a foreign key: a message and its run are written in the same
-- transaction in either order, and both go away with their session.
CREATE TABLE messages (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    run_id     TEXT,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    origin     TEXT,
    mode       TEXT,
    metadata   TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, created_at, id);

CREATE TABLE runs (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id           TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    parent_run_id        TEXT REFERENCES runs (id) ON DELETE SET NULL,
    initiator_ref        TEXT,
    trigger_type         TEXT NOT NULL,
    trigger_ref          TEXT,
    agent_name           TEXT,
    effective_agent_name TEXT NOT NULL,
    switch_count         INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    cancel_requested_at  TEXT,
    started_at           TEXT,
    heartbeat_at         TEXT,
    ended_at             TEXT,
    created_at           TEXT NOT NULL,
    error_code           TEXT,
    error_message        TEXT,
    metadata             TEXT
);
CREATE INDEX runs_by_session ON runs (session_id, created_at, id);
CREATE INDEX runs_by_workspace ON runs (workspace_id);
CREATE INDEX runs_by_parent ON runs (parent_run_id);
CREATE INDEX runs_by_status ON runs (status, created_at, id);
-- Few rows are ever live, so this stays tiny and makes active_runs() cheap.
CREATE INDEX runs_live_by_session ON runs (session_id)
    WHERE status IN ('queued', 'running', 'waiting_tool');

CREATE TABLE run_steps (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    step_type   TEXT NOT NULL,
    name        TEXT,
    agent_name  TEXT,
    status      TEXT NOT NULL,
    input       TEXT,
    output      TEXT,
    started_at  TEXT,
    ended_at    TEXT
);
CREATE UNIQUE INDEX run_steps_by_run ON run_steps (run_id, seq);

-- Positions are renumbered 1..n on every change, so (session_id, position) is not declared
-- unique: SQLite checks uniqueness row by row during a multi-row renumbering.
CREATE TABLE session_pending_runs (
    run_id     TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX session_pending_by_session ON session_pending_runs (session_id, position);

-- run_id is not a foreign key for the same reason as in messages. Filtering by run scans the
-- session's events from the cursor on, which a replay does anyway.
CREATE TABLE session_events (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    cursor     INTEGER NOT NULL,
    run_id     TEXT,
    event      TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX session_events_by_cursor ON session_events (session_id, cursor);
