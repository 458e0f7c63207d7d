-- Hold (see `Record::CallHeld` / `Record::CallResumed`): a call's finished holds, added to at
-- every resume so totals from before a controller restart are kept. NULL: never held.
ALTER TABLE calls ADD COLUMN hold_ms BIGINT;
ALTER TABLE calls ADD COLUMN holds BIGINT;
