-- The last history batch the writer committed, written in the batch's own transaction: after a
-- connection lost at COMMIT, the writer reads it to tell a batch that committed (not to be
-- written again) from one that did not (to be retried). One row.
CREATE TABLE history_writer (
    id         BIGINT PRIMARY KEY NOT NULL,
    last_batch TEXT NOT NULL
);
