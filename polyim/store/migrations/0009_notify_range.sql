-- polyim schema v9: v8's index of notifications by message id, its condition a range of keys instead of
-- LIKE. A statement whose rows call a function (LIKE, for this partial index) may stop midway, so SQLite
-- gave every multi-row INSERT into messages a statement journal: each index page it touched copied to a
-- temporary file first (~1,000 writes a commit under chat load), and every chat append called LIKE. The
-- keys are binary-collated and every notification's starts with 'n:', so the range is the same rows.
-- Queries name the same condition to use it.
DROP INDEX messages_notify_id;
CREATE INDEX messages_notify_id ON messages(conv, msg_id) WHERE conv >= 'n:' AND conv < 'n;';
