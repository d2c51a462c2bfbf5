-- polyim schema v3: messages become a rowid table in arrival order, with (conv, seq) a unique index.
--
-- Keyed by (conv, seq), every commit touched one table page per active conversation and split pages
-- in the middle of the tree; in arrival order a commit's rows share the last page or two, and only the
-- slim index entries scatter. Same columns, same uniqueness, same queries.
CREATE TABLE messages_v3 (
    conv      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    msg_id    INTEGER NOT NULL,
    sender    INTEGER NOT NULL,
    device    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    ctype     INTEGER NOT NULL,
    content   TEXT NOT NULL,
    data      BLOB NOT NULL DEFAULT x'',
    extra     TEXT NOT NULL DEFAULT '{}',
    status    INTEGER NOT NULL DEFAULT 0,
    topic     TEXT NOT NULL DEFAULT '',
    ts_ms     INTEGER NOT NULL
);
INSERT INTO messages_v3(conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra, status, topic, ts_ms)
    SELECT conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra, status, topic, ts_ms
    FROM messages ORDER BY msg_id;
DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;
CREATE UNIQUE INDEX messages_conv_seq ON messages(conv, seq);
CREATE UNIQUE INDEX messages_dedup ON messages(sender, device, client_id) WHERE client_id <> '';
CREATE INDEX messages_topic ON messages(conv, topic, seq) WHERE topic <> '';
