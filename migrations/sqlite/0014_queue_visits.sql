-- Statistics (see `store::queue_visits` and docs/statistics.md): one row per visit of a call
-- to a queue, derived from the queue events and hold/wrap-up records in the same transaction.
-- A call that overflows, is moved or is transferred into another queue has one visit per queue.
-- outcome: NULL while waiting, then answered | abandoned | overflowed | lost | callback_failed |
-- transferred (left unanswered by a transfer). Times are unix ms; talk_ms is the connected
-- time of the visit's agents (hold included), hold_ms and wrap_ms their totals.
CREATE TABLE queue_visits (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id         TEXT NOT NULL,
    queue_id        TEXT NOT NULL,
    entered_at      BIGINT NOT NULL,
    -- entered_at's 15-minute bucket (unix ms, a multiple of 900000): reports group by it.
    bucket          BIGINT NOT NULL,
    ended_at        BIGINT,
    outcome         TEXT,
    wait_ms         BIGINT,
    agent_id        TEXT,
    answered_at     BIGINT,
    talk_ms         BIGINT,
    hold_ms         BIGINT NOT NULL DEFAULT 0,
    wrap_ms         BIGINT,
    transferred_out BIGINT NOT NULL DEFAULT 0,
    callback        BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX queue_visits_by_call ON queue_visits (call_id, queue_id, id);
-- Reports by queue: the visits offered in a period, read in the order they are grouped.
CREATE INDEX queue_visits_by_bucket ON queue_visits (bucket, queue_id);
-- Reports by agent: the visits an agent answered in a period.
CREATE INDEX queue_visits_by_answered ON queue_visits (answered_at, agent_id) WHERE answered_at IS NOT NULL;
-- Reports by agent: connects and missed offers in a period; state spans in a period.
CREATE INDEX queue_events_by_kind_at ON queue_events (kind, at);
CREATE INDEX agent_state_changes_by_at ON agent_state_changes (at);
CREATE INDEX agent_state_changes_by_agent_at ON agent_state_changes (agent_id, at);

-- Visits of calls already in the history (answered, abandoned or ended, from the calls table)
-- so a report over the time before this version is not empty.
INSERT INTO queue_visits (call_id, queue_id, entered_at, bucket, ended_at, outcome, wait_ms,
    agent_id, answered_at, talk_ms, hold_ms)
SELECT id, queue_id, entered_at, (entered_at / 900000) * 900000, ended_at,
    CASE WHEN answered_at IS NOT NULL THEN 'answered'
         WHEN outcome IS NULL THEN NULL ELSE outcome END,
    CASE WHEN answered_at IS NOT NULL THEN answered_at - entered_at
         WHEN ended_at IS NOT NULL THEN ended_at - entered_at END,
    agent_id, answered_at, talk_ms, COALESCE(hold_ms, 0)
FROM calls;
