-- polyim schema v8: a stored push is found by its message id (a beehive P2P ack names it) through an
-- index, not by reading the user's whole notification stream (188 ms per ack at 100,000 stored pushes;
-- docs/performance.md, "How cost grows"). Partial: only notification rows (conv 'n:…') carry it, so a
-- chat append writes no more index pages than before. Queries name the same condition to use it.
CREATE INDEX messages_notify_id ON messages(conv, msg_id) WHERE conv LIKE 'n:%';
