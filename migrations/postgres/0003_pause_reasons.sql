-- Pause reasons an agent may give (from the phone as digits, or over the API). productive:
-- 1 when time in this pause counts as work (training, back office), 0 otherwise.
CREATE TABLE pause_reasons (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    productive BIGINT NOT NULL DEFAULT 0
);
