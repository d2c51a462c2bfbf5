-- polyim schema v6: the profile members XMMEP's UserInfo carries (xmmep.md §3.1) that no other
-- protocol had asked for: a personal message, a place of residence, a gender (1 male, 0 female or
-- unknown), and when the user last logged in (ms; 0 = never).
ALTER TABLE accounts ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN gender INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_login_ms INTEGER NOT NULL DEFAULT 0;
