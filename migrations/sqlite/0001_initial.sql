-- Provisioning (editable over REST, also loaded from provisioning.toml) and append-only history.
-- Ids are TEXT, timestamps BIGINT unix milliseconds. History has no foreign keys to
-- provisioning: deleting a queue or an agent must not rewrite or lose history.

CREATE TABLE queues (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    moh             TEXT NOT NULL,
    wrap_up_ms      BIGINT NOT NULL,
    ring_timeout_ms BIGINT NOT NULL
);

CREATE TABLE agents (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    dial_string TEXT NOT NULL
);

-- The queues an agent serves, in the agent's order.
CREATE TABLE agent_queues (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (agent_id, queue_id)
);

CREATE INDEX agent_queues_by_queue ON agent_queues (queue_id);

-- One row per call, created when it enters a queue, completed as it is answered and ends.
CREATE TABLE calls (
    id             TEXT PRIMARY KEY NOT NULL,
    switch         TEXT NOT NULL,
    caller_channel TEXT NOT NULL,
    queue_id       TEXT NOT NULL,
    caller_number  TEXT NOT NULL,
    caller_name    TEXT NOT NULL,
    destination    TEXT NOT NULL,
    priority       BIGINT NOT NULL,
    entered_at     BIGINT NOT NULL,
    answered_at    BIGINT,
    ended_at       BIGINT,
    agent_id       TEXT,
    agent_channel  TEXT,
    wait_ms        BIGINT,
    talk_ms        BIGINT,
    outcome        TEXT,
    hangup_cause   TEXT
);

CREATE INDEX calls_by_entered_at ON calls (entered_at);
CREATE INDEX calls_open ON calls (entered_at) WHERE ended_at IS NULL;

-- In the spirit of Asterisk's queue_log. Checked against calls at commit, so a batch may
-- carry a call's events in any order.
CREATE TABLE queue_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id  TEXT NOT NULL REFERENCES calls (id) DEFERRABLE INITIALLY DEFERRED,
    queue_id TEXT NOT NULL,
    agent_id TEXT,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       BIGINT NOT NULL
);

CREATE INDEX queue_events_by_call ON queue_events (call_id, id);

-- previous_state_ms: time spent in from_status, when an earlier row for the agent exists.
CREATE TABLE agent_state_changes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id          TEXT NOT NULL,
    from_status       TEXT NOT NULL,
    to_status         TEXT NOT NULL,
    cause             TEXT NOT NULL,
    at                BIGINT NOT NULL,
    previous_state_ms BIGINT
);

CREATE INDEX agent_state_changes_by_agent ON agent_state_changes (agent_id, id);
