-- Who leads a controller pair: PostgreSQL only (a SQLite file has one controller, see
-- docs/decisions.md). The table exists so both backends stay at the same schema version.
CREATE TABLE leadership (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL,
    leader TEXT NOT NULL,
    advertise_url TEXT NOT NULL,
    -- The leader process's application_name: a successor ends its sessions.
    session TEXT NOT NULL,
    lease_until BIGINT
);
INSERT INTO leadership (id, epoch, leader, advertise_url, session, lease_until)
    VALUES (1, 0, '', '', '', NULL);
