-- polyim schema v9 is SQLite's (its 0009 drops LIKE from the notification index's condition, which made
-- SQLite journal each multi-row INSERT). PostgreSQL journals no statement and its keys may sort by a
-- locale's rules, so its index keeps LIKE; the version moves so that both dialects stay numbered alike.
COMMENT ON INDEX messages_notify_id IS 'notifications by message id (v8); their keys start with n:';
