-- After-call states (see `Record::AgentAfterCall`): a pause or log-out asked for while the
-- agent was on a call, set, cancelled (status NULL) or applied; append-only. The latest row of
-- an agent that is not applied and not cancelled is what still waits (read back at a restart).
CREATE TABLE agent_after_call (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    status   TEXT,
    reason   TEXT,
    applied  BIGINT NOT NULL,
    at       BIGINT NOT NULL
);

CREATE INDEX agent_after_call_by_agent ON agent_after_call (agent_id, id);

-- Disposition codes (see `Record::CallDisposition`): the code the agent gave the call, from
-- its queue's list; NULL: none given.
ALTER TABLE calls ADD COLUMN disposition TEXT;
