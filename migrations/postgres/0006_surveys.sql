-- Post-call surveys: one per call at most (the caller answers after the agent hung up), with
-- the agent it is about and the answers (a JSON object of the variables the survey set). Its
-- steps go to flow_steps under the call's id, marked `survey = 1`, so the IVR's own report of
-- where callers leave is not mixed with the survey's.
CREATE TABLE call_surveys (
    call_id    TEXT PRIMARY KEY NOT NULL,
    flow_id    TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    outcome    TEXT,
    answers    TEXT
);

CREATE INDEX call_surveys_by_flow ON call_surveys (flow_id, started_at);
CREATE INDEX call_surveys_by_agent ON call_surveys (agent_id, started_at);

ALTER TABLE flow_steps ADD COLUMN survey BIGINT NOT NULL DEFAULT 0;

-- A restarted controller looks up the session of each caller still parked for a flow.
CREATE INDEX flow_sessions_by_channel ON flow_sessions (caller_channel);
