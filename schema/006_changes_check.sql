-- dirsyncd mirror, schema version 6: the changes feed's entity check, as plain comparisons.
--
-- The same rule, written so that SQLite compiles it to four comparisons: as
-- `entity IN (four values)` it built and dropped a temporary b-tree for every row inserted, about
-- a third of the cost of recording one change. SQLite cannot alter a CHECK in place, so the table
-- is rebuilt: the same columns, rows and seq values, and the next seq stays where it was (also
-- when the newest rows were pruned).

CREATE TEMP TABLE changes_v6_next_seq AS
    SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq;

CREATE TABLE changes_v6 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at   TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    entity       TEXT NOT NULL CHECK (entity = 'directory' OR entity = 'user' OR
                                      entity = 'group' OR entity = 'membership'),
    entity_id    TEXT NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
);
INSERT INTO changes_v6 (seq, changed_at, directory_id, entity, entity_id, op)
SELECT seq, changed_at, directory_id, entity, entity_id, op FROM changes ORDER BY seq;
DROP TABLE changes;
-- The view mirror_status reads changes by name: the legacy rename leaves it as it is (the
-- current one refuses while the view names a table that is not there).
PRAGMA legacy_alter_table = ON;
ALTER TABLE changes_v6 RENAME TO changes;
PRAGMA legacy_alter_table = OFF;

UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM temp.changes_v6_next_seq))
WHERE name = 'changes';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'changes', seq FROM temp.changes_v6_next_seq
WHERE seq > 0 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'changes');
DROP TABLE temp.changes_v6_next_seq;
