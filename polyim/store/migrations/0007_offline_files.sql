-- polyim schema v7: offline files waiting for their recipients (TeamTalk 6/18 and later protocols).
-- The bytes are in the file store under file_id; this row is what makes them findable after a restart.
CREATE TABLE offline_files (
    task_id    TEXT PRIMARY KEY,
    sender     INTEGER NOT NULL,
    recipient  INTEGER NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    file_id    TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
