-- dirsyncd mirror, schema version 2: the event stream (daemon mode).

-- Where the event stream stands: the id of the last applied event, saved in the same transaction
-- as its effects. Without a cursor the stream starts at range_start.
CREATE TABLE event_stream (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    cursor            TEXT,
    cursor_created_at TEXT,
    range_start       TEXT,
    updated_at        TEXT NOT NULL
);

-- Events that could not be decoded or applied ("poison" events): kept for an operator, skipped.
CREATE TABLE quarantined_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT,
    event_type     TEXT,
    reason         TEXT NOT NULL,
    raw_json       TEXT NOT NULL,
    quarantined_at TEXT NOT NULL
);

-- Objects deleted by an event, so that a late or repeated event carrying an older copy cannot
-- bring them back. Pruned with the changes feed.
CREATE TABLE tombstones (
    entity        TEXT NOT NULL,
    id            TEXT NOT NULL,
    directory_id  TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL,
    deleted_at    TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX tombstones_by_time ON tombstones (deleted_at);

-- A full sync's merge leaves alone what events changed while it was listing (seq > start_seq).
ALTER TABLE staging_runs ADD COLUMN start_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX changes_by_entity ON changes (entity_id, seq);
CREATE INDEX changes_by_time ON changes (changed_at);
