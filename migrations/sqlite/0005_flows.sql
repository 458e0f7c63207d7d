-- IVR history: one session per caller who entered a flow (keyed by the call id the call keeps
-- if it reaches a queue, so it joins `calls`), and every node the caller went through. A
-- session that spans flows (goto) is one row; each step names its own flow. `variables` is a
-- JSON object of what the caller entered and the CRM returned, written when the session ends.
CREATE TABLE flow_sessions (
    call_id        TEXT PRIMARY KEY NOT NULL,
    switch         TEXT NOT NULL,
    caller_channel TEXT NOT NULL,
    flow_id        TEXT NOT NULL,
    entry          TEXT NOT NULL,
    caller_number  TEXT NOT NULL,
    caller_name    TEXT NOT NULL,
    destination    TEXT NOT NULL,
    entered_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    outcome        TEXT,
    variables      TEXT
);

CREATE INDEX flow_sessions_by_flow ON flow_sessions (flow_id, entered_at);

-- Checked against flow_sessions at commit, so a batch may carry a session's steps before it.
CREATE TABLE flow_steps (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES flow_sessions (call_id) DEFERRABLE INITIALLY DEFERRED,
    flow_id TEXT NOT NULL,
    node    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    digits  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at      BIGINT NOT NULL
);

CREATE INDEX flow_steps_by_call ON flow_steps (call_id, id);
