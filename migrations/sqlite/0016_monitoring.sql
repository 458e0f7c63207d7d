-- Supervisor monitoring (see `Record::Monitor`): one row per session change, append-only: the
-- supervisor's leg joined (`started`), changed mode (`mode_changed`, with the mode before), or
-- ended (`ended`, with why). Who monitored which call, in which mode, from when to when.
CREATE TABLE monitor_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id    TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    queue_id      TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    supervisor    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    mode          TEXT NOT NULL,
    previous_mode TEXT,
    reason        TEXT,
    at            BIGINT NOT NULL
);
CREATE INDEX monitor_events_call ON monitor_events (call_id);
CREATE INDEX monitor_events_monitor ON monitor_events (monitor_id);
