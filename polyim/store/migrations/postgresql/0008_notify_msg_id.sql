-- polyim schema v8 on PostgreSQL: a stored push found by its message id through an index (as SQLite's
-- 0008; partial, so chat appends do not pay for it; queries name the same condition to use it).
CREATE INDEX messages_notify_id ON messages(conv, msg_id) WHERE conv LIKE 'n:%';
