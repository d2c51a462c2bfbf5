-- polyim schema v7 on PostgreSQL: offline files waiting for their recipients (as SQLite's 0007).
CREATE TABLE offline_files (
    task_id    TEXT PRIMARY KEY,
    sender     BIGINT NOT NULL,
    recipient  BIGINT NOT NULL,
    name       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    file_id    TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
