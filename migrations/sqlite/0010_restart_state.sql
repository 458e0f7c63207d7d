-- What a restarted controller needs to adopt callers where they were (see `Record::CallPlaced`
-- and `Record::FlowWaiting`). NULL: as the row's entry says (a call never moved, an IVR
-- session written before this version).
-- calls: the queue a caller waits in now (after overflows), its priority and skills (serde
-- JSON of a list of engine::SkillLevel) as changed while waiting, how many queue moves it
-- made, and the time its place counts from.
ALTER TABLE calls ADD COLUMN current_queue TEXT;
ALTER TABLE calls ADD COLUMN current_priority BIGINT;
ALTER TABLE calls ADD COLUMN current_skills TEXT;
ALTER TABLE calls ADD COLUMN hops BIGINT;
ALTER TABLE calls ADD COLUMN waiting_since BIGINT;

-- flow_sessions: the node an open session waits at (current_flow differs from flow_id after
-- a goto). Its variables so far go to the existing `variables` column.
ALTER TABLE flow_sessions ADD COLUMN current_flow TEXT;
ALTER TABLE flow_sessions ADD COLUMN current_node TEXT;

-- The abandoned calls a restarted controller remembers for resume.
CREATE INDEX calls_abandoned ON calls (ended_at) WHERE outcome = 'abandoned';
