-- Corral schema v1 (PostgreSQL): the tables, columns and indexes of the SQLite schema
-- (migrations/sqlite/0001_init.sql, whose notes apply here too) in native types: timestamptz,
-- boolean, and json (not jsonb: it keeps text exactly as written, key order and \u0000 escapes
-- included; nothing queries inside it). Ids compare byte by byte (COLLATE "C"), as in SQLite,
-- whatever the database's locale: ties in listings break the same way. Child rows cascade from
-- their parents.

CREATE TABLE workspaces (
    id               text COLLATE "C" PRIMARY KEY,
    name             text NOT NULL,
    runtime          text,
    root_path        text NOT NULL,
    external_ref     text,
    owner_id         text COLLATE "C",
    service_name     text,
    execution_policy text NOT NULL DEFAULT 'local',
    status           text NOT NULL DEFAULT 'active',
    kind             text NOT NULL DEFAULT 'project',
    read_only        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX workspaces_by_updated ON workspaces (updated_at, id);

CREATE TABLE sessions (
    id                text COLLATE "C" PRIMARY KEY,
    workspace_id      text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    parent_session_id text COLLATE "C" REFERENCES sessions (id) ON DELETE CASCADE,
    subject_ref       text NOT NULL,
    model_ref         text,
    agent_name        text,
    active_agent_name text NOT NULL,
    title             text,
    status            text NOT NULL DEFAULT 'active',
    last_run_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, updated_at, id);
CREATE INDEX sessions_by_parent ON sessions (parent_session_id, updated_at, id);

CREATE TABLE messages (
    id         text COLLATE "C" PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    run_id     text COLLATE "C",
    role       text NOT NULL,
    content    json NOT NULL,
    origin     text,
    mode       text,
    metadata   json,
    created_at timestamptz NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, created_at, id);

CREATE TABLE runs (
    id                   text COLLATE "C" PRIMARY KEY,
    workspace_id         text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id           text COLLATE "C" REFERENCES sessions (id) ON DELETE CASCADE,
    parent_run_id        text COLLATE "C" REFERENCES runs (id) ON DELETE SET NULL,
    initiator_ref        text,
    trigger_type         text NOT NULL,
    trigger_ref          text,
    agent_name           text,
    effective_agent_name text NOT NULL,
    switch_count         integer NOT NULL DEFAULT 0,
    status               text NOT NULL,
    cancel_requested_at  timestamptz,
    started_at           timestamptz,
    heartbeat_at         timestamptz,
    ended_at             timestamptz,
    created_at           timestamptz NOT NULL,
    error_code           text,
    error_message        text,
    metadata             json
);
CREATE INDEX runs_by_session ON runs (session_id, created_at, id);
CREATE INDEX runs_by_workspace ON runs (workspace_id);
CREATE INDEX runs_by_parent ON runs (parent_run_id);
CREATE INDEX runs_by_status ON runs (status, created_at, id);
CREATE INDEX runs_live_by_session ON runs (session_id)
    WHERE status IN ('queued', 'running', 'waiting_tool');
-- Runs of a session never overlap, whichever process executes them: the database refuses a
-- second executing run of a session (a claim that would break that fails instead).
CREATE UNIQUE INDEX runs_one_executing_per_session ON runs (session_id)
    WHERE status IN ('running', 'waiting_tool');

CREATE TABLE run_steps (
    id          text COLLATE "C" PRIMARY KEY,
    run_id      text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    step_type   text NOT NULL,
    name        text,
    agent_name  text,
    status      text NOT NULL,
    input       json,
    output      json,
    started_at  timestamptz,
    ended_at    timestamptz
);
CREATE UNIQUE INDEX run_steps_by_run ON run_steps (run_id, seq);

CREATE TABLE session_pending_runs (
    run_id     text COLLATE "C" PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX session_pending_by_session ON session_pending_runs (session_id, position);

CREATE TABLE session_events (
    id         text COLLATE "C" PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    cursor     bigint NOT NULL,
    run_id     text COLLATE "C",
    event      text NOT NULL,
    data       json NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX session_events_by_cursor ON session_events (session_id, cursor);

-- The write lock and commit counter (store/postgres/store.py): every write transaction starts
-- by incrementing seq, so it holds this row's lock until it commits.
CREATE TABLE store_commits (
    id  integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO store_commits (id, seq) VALUES (1, 0);
