-- polyim schema v2: friend requests, 1:1 mutes and numbered devices (beehive's sids, beehive.md §6.1).

-- A pending request: uid asked peer to be friends, giving peer the remark. Accepting (a request back)
-- turns it into two friend edges; it lapses after 30 days.
CREATE TABLE friend_requests (
    uid        INTEGER NOT NULL,
    peer       INTEGER NOT NULL,
    remark     TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (uid, peer)
) WITHOUT ROWID;
CREATE INDEX friend_requests_peer ON friend_requests(peer, created_ms);
CREATE INDEX friend_requests_age ON friend_requests(created_ms);

-- uid muted peer: peer's 1:1 messages to uid are stored but not pushed (uid syncs them).
CREATE TABLE mutes (
    uid  INTEGER NOT NULL,
    peer INTEGER NOT NULL,
    PRIMARY KEY (uid, peer)
) WITHOUT ROWID;

-- A device id bound to one user for good. Ids are unsigned 64-bit on the wire and kept here as the
-- signed 64-bit integer with the same bits. ``registered`` marks ids allocated from the sequence.
CREATE TABLE devices (
    device     INTEGER PRIMARY KEY,
    uid        INTEGER NOT NULL,
    nation     INTEGER NOT NULL DEFAULT 0,
    city       INTEGER NOT NULL DEFAULT 0,
    town       INTEGER NOT NULL DEFAULT 0,
    registered INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX devices_uid ON devices(uid, created_ms);
INSERT INTO sequences(name, value) VALUES ('device', 30000);
