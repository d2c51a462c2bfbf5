-- polyim schema v4: the room settings users expect to last (design.md §4 "Rooms"): owner, name,
-- open/closed, sub-group capacity, session limit, dismissal (the rid stays dead), and the ban, gag and
-- manager lists. Who is inside a room is live state and is not kept.
CREATE TABLE rooms (
    rid          INTEGER PRIMARY KEY,
    owner        INTEGER NOT NULL DEFAULT 0,
    name         TEXT NOT NULL DEFAULT '',
    descr        TEXT NOT NULL DEFAULT '',
    closed       INTEGER NOT NULL DEFAULT 0,
    capacity     INTEGER NOT NULL,
    member_limit INTEGER NOT NULL DEFAULT 0,
    dismissed    INTEGER NOT NULL DEFAULT 0
);
-- kind: 1 banned, 2 gagged, 3 manager (polyim.model.RoomList)
CREATE TABLE room_users (
    rid  INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    uid  INTEGER NOT NULL,
    PRIMARY KEY (rid, kind, uid)
) WITHOUT ROWID;
