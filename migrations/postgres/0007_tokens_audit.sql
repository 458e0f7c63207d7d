-- API tokens, kept only as the SHA-256 digest of the token (64 hex digits): a token is 32
-- random bytes, so an unsalted digest cannot be reversed and lets a request be matched with one
-- lookup. role: admin, supervisor, agent or integration; agent_id only for role agent.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY NOT NULL,
    role         TEXT NOT NULL,
    agent_id     TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);

-- Every state-changing API request that passed authentication, after it completed: who (the
-- token's name and role at the time), what (method, path without the query, response status)
-- and when. Never the request body.
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    token_name TEXT NOT NULL,
    role       TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     BIGINT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (at);

-- An agent's token lists the calls that agent answered.
CREATE INDEX calls_by_agent ON calls (agent_id, entered_at);
