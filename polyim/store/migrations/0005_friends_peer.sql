-- Who has a user as a friend (the reverse of an edge): the observers of its presence. XMMEP makes
-- one-way edges (a buddy added without approval), so the two directions differ.
CREATE INDEX friends_peer ON friends(peer, uid);
