-- Call recordings: what the switch recorded (or would have, had the caller not opted out),
-- where the file is, who is on it and when it must go. One row per recording, created when
-- the switch is asked to start; status: recording, stopped, failed, declined (the caller
-- pressed the opt-out key: no file). `path` is on the switch's disk, `relative_path` under its
-- recordings directory and under the controller's mount of it. `retain_until` is set when the
-- recording ends, from its queue's retention (NULL: kept until erased).
CREATE TABLE recordings (
    id            TEXT PRIMARY KEY NOT NULL,
    call_id       TEXT NOT NULL,
    switch        TEXT NOT NULL,
    channel       TEXT,
    agent_channel TEXT,
    queue_id      TEXT,
    agent_id      TEXT,
    caller_number TEXT NOT NULL,
    destination   TEXT NOT NULL,
    path          TEXT,
    relative_path TEXT,
    stereo        BIGINT NOT NULL DEFAULT 0,
    reason        TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    stopped_at    BIGINT,
    stopped_by    TEXT,
    duration_ms   BIGINT,
    error         TEXT,
    notice_at     BIGINT,
    opted_out_at  BIGINT,
    retain_until  BIGINT
);

CREATE INDEX recordings_by_start ON recordings (started_at);
CREATE INDEX recordings_by_call ON recordings (call_id);
CREATE INDEX recordings_by_agent ON recordings (agent_id, started_at);
CREATE INDEX recordings_by_queue ON recordings (queue_id, started_at);
CREATE INDEX recordings_by_caller ON recordings (caller_number);
CREATE INDEX recordings_by_retention ON recordings (retain_until);

-- Every pause, resume, mask and unmask: who, when, and how far into the recording (wall
-- time since its start). The paused and masked intervals are read from these.
CREATE TABLE recording_changes (
    id           BIGSERIAL PRIMARY KEY,
    recording_id TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    offset_ms    BIGINT NOT NULL,
    at           BIGINT NOT NULL
);

CREATE INDEX recording_changes_by_recording ON recording_changes (recording_id, id);

-- A supervisor's evaluation of a recording against an evaluation form: the score given per
-- criterion (a JSON list of {criterion, score, max}), their total, and notes.
CREATE TABLE recording_evaluations (
    id           BIGSERIAL PRIMARY KEY,
    recording_id TEXT NOT NULL,
    form         TEXT NOT NULL,
    evaluator    TEXT NOT NULL,
    scores       TEXT NOT NULL,
    total        BIGINT NOT NULL,
    max_total    BIGINT NOT NULL,
    notes        TEXT NOT NULL,
    at           BIGINT NOT NULL
);

CREATE INDEX recording_evaluations_by_recording ON recording_evaluations (recording_id, id);

-- Legal holds: a recording, or every recording of a call, that neither the retention purge
-- nor an erasure may remove while the hold stands (released_at NULL).
CREATE TABLE legal_holds (
    id           BIGSERIAL PRIMARY KEY,
    recording_id TEXT,
    call_id      TEXT,
    reason       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    BIGINT NOT NULL,
    released_by  TEXT,
    released_at  BIGINT
);

CREATE INDEX legal_holds_by_recording ON legal_holds (recording_id);
CREATE INDEX legal_holds_by_call ON legal_holds (call_id);

-- What the retention purge and erasures removed, and when: kept after the data is gone.
-- kind: purge or erasure; subject: for an erasure, the SHA-256 of the caller number (the
-- number itself is what was to be forgotten); detail: what was removed (JSON).
CREATE TABLE data_removals (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    recording_id TEXT,
    call_id      TEXT,
    subject      TEXT,
    detail       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL
);

CREATE INDEX data_removals_by_time ON data_removals (at);
