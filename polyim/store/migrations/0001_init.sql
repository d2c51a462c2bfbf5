-- polyim schema v1. One file per version; the runner applies the missing ones in order.
CREATE TABLE accounts (
    uid         INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    pw_hash     TEXT NOT NULL,
    nickname    TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    avatar      TEXT NOT NULL DEFAULT '',
    mobile      TEXT NOT NULL DEFAULT '',
    birthday    INTEGER NOT NULL DEFAULT 0,
    role        INTEGER NOT NULL DEFAULT 0,
    disabled    INTEGER NOT NULL DEFAULT 0,
    activated   INTEGER NOT NULL DEFAULT 1,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE sequences (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO sequences(name, value) VALUES ('uid', 9999), ('gid', 0), ('rid', 0);

CREATE TABLE conversations (
    conv        TEXT PRIMARY KEY,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    activity_us INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE messages (
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
    ts_ms     INTEGER NOT NULL,
    PRIMARY KEY (conv, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_dedup ON messages(sender, device, client_id) WHERE client_id <> '';
CREATE INDEX messages_topic ON messages(conv, topic, seq) WHERE topic <> '';

-- Controls (recall/edit/delete) are deduplicated like sends and replayed through priority queues.
CREATE TABLE controls (
    id        INTEGER PRIMARY KEY,
    conv      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    cmd       INTEGER NOT NULL,
    actor     INTEGER NOT NULL,
    device    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    target_client_id TEXT NOT NULL DEFAULT '',
    content   TEXT NOT NULL DEFAULT '',
    ts_ms     INTEGER NOT NULL
);
CREATE UNIQUE INDEX controls_dedup ON controls(actor, device, client_id) WHERE client_id <> '';

CREATE TABLE user_convs (
    uid           INTEGER NOT NULL,
    conv          TEXT NOT NULL,
    read_seq      INTEGER NOT NULL DEFAULT 0,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    activity_us   INTEGER NOT NULL DEFAULT 0,
    attrs         TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (uid, conv)
) WITHOUT ROWID;

CREATE TABLE priority_queue (
    uid        INTEGER NOT NULL,
    key        INTEGER NOT NULL,
    conv       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    control_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (uid, key)
) WITHOUT ROWID;
CREATE INDEX priority_queue_conv ON priority_queue(conv, seq);

CREATE TABLE friends (
    uid          INTEGER NOT NULL,
    peer         INTEGER NOT NULL,
    remark       TEXT NOT NULL DEFAULT '',
    buddy_group  TEXT NOT NULL DEFAULT '',
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (uid, peer)
) WITHOUT ROWID;

CREATE TABLE blocks (
    uid  INTEGER NOT NULL,
    peer INTEGER NOT NULL,
    PRIMARY KEY (uid, peer)
) WITHOUT ROWID;

CREATE TABLE friend_attrs (
    uid   INTEGER NOT NULL,
    peer  INTEGER NOT NULL,
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, peer, name)
) WITHOUT ROWID;

CREATE TABLE groups (
    gid          INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    owner        INTEGER NOT NULL,
    avatar       TEXT NOT NULL DEFAULT '',
    descr        TEXT NOT NULL DEFAULT '',
    kind         INTEGER NOT NULL DEFAULT 1,
    member_limit INTEGER NOT NULL DEFAULT 1000,
    mute_all     INTEGER NOT NULL DEFAULT 0,
    closed       INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE group_members (
    gid       INTEGER NOT NULL,
    uid       INTEGER NOT NULL,
    role      INTEGER NOT NULL DEFAULT 0,
    muted     INTEGER NOT NULL DEFAULT 0,
    joined_ms INTEGER NOT NULL,
    PRIMARY KEY (gid, uid)
) WITHOUT ROWID;
CREATE INDEX group_members_uid ON group_members(uid);

CREATE TABLE group_blacklist (
    gid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    PRIMARY KEY (gid, uid)
) WITHOUT ROWID;

-- Results of idempotent operations keyed by the caller's request id (OMTP HTTP traceId).
CREATE TABLE idempotency (
    key    TEXT PRIMARY KEY,
    result TEXT NOT NULL
) WITHOUT ROWID;
