-- CTI events and their webhook deliveries. An event is written in the same transaction as the
-- history change it announces (the outbox), with one delivery row per subscription that wants
-- it; a worker apart from the engine delivers them. Lists in TEXT columns are written
-- ",a,b," so a subscription's filter is one LIKE.
CREATE TABLE cti_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    call_id  TEXT,
    queue_id TEXT,
    agent_id TEXT,
    at       BIGINT NOT NULL,
    payload  TEXT NOT NULL
);

CREATE INDEX cti_events_by_call ON cti_events (call_id, seq);

CREATE TABLE webhook_subscriptions (
    name            TEXT PRIMARY KEY NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    queues          TEXT NOT NULL,
    secrets         TEXT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT
);

-- status: pending, delivered, missed (a screen-pop too late to matter), dead (gave up, or the
-- receiver said 410 Gone); a replay makes it pending again.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL REFERENCES cti_events (event_id),
    subscription    TEXT NOT NULL,
    call_id         TEXT,
    class           TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_call ON webhook_deliveries (subscription, call_id, id);
