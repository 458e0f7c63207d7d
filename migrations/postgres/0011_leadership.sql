-- Who leads a controller pair: one row. `epoch` grows by one at each takeover; the leader
-- renews `lease_until` (database time) and every history batch checks `epoch` (fencing).
CREATE TABLE leadership (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL,
    leader TEXT NOT NULL,
    advertise_url TEXT NOT NULL,
    -- The leader process's application_name: a successor ends its sessions.
    session TEXT NOT NULL,
    lease_until TIMESTAMPTZ
);
INSERT INTO leadership (id, epoch, leader, advertise_url, session, lease_until)
    VALUES (1, 0, '', '', '', NULL);
