-- Call search (`GET /v1/calls` with filters): an index per filter, each going on with
-- (entered_at, id) so a page is a walk down one index from the cursor, newest first. The
-- time range alone uses calls_by_entered_at, the agent calls_by_agent (0001, 0007).
CREATE INDEX calls_by_queue ON calls (queue_id, entered_at, id);
-- The queue a call overflowed into (set only for calls that moved or changed while waiting).
CREATE INDEX calls_by_current_queue ON calls (current_queue, entered_at, id)
    WHERE current_queue IS NOT NULL;
CREATE INDEX calls_by_outcome ON calls (outcome, entered_at, id);
-- An exact number, or a prefix with LIKE 'prefix%': text_pattern_ops serves both in any
-- collation (a plain index serves LIKE only in the C collation).
CREATE INDEX calls_by_caller_number ON calls (caller_number text_pattern_ops, entered_at, id);
