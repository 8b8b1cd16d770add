-- dirsyncd mirror, schema version 5: how fresh the mirror is, for the apps that read it.

-- The daemon as a whole (one row). daemon_pid is set while a daemon runs and cleared when it
-- stops; after a crash it stays until the next start (a reader checks caught_up_at, not the pid).
-- caught_up_at is the last time a poll reached the end of the event stream: written with the
-- poll's changes, or at most once per status_heartbeat_seconds when nothing changed.
CREATE TABLE daemon_status (
    id                       INTEGER PRIMARY KEY CHECK (id = 1),
    daemon_pid               INTEGER,
    daemon_started_at        TEXT,
    caught_up_at             TEXT,
    last_event_at            TEXT,    -- created_at of the newest applied event
    last_error               TEXT,    -- of the event stream; cleared by the next good poll
    last_error_at            TEXT,
    poll_interval_seconds    REAL,
    status_heartbeat_seconds REAL
);
INSERT INTO daemon_status (id) VALUES (1);

ALTER TABLE sync_state ADD COLUMN last_event_at TEXT;

-- The public freshness view: one row per directory the mirror knows, and the row '*' for the
-- daemon. A directory's state, first match wins: held (its last full sync was held back),
-- failing (its last full sync failed), syncing (a full sync is in progress or was interrupted),
-- ok (mirrored), never_synced. The '*' row: failing when the event stream fails, else the worst
-- state of the directories (never_synced when there are none). min_seq and max_seq bound the
-- changes feed, also when it is empty (then min_seq = max_seq + 1): an app whose last seen seq is
-- below min_seq - 1 fell behind.
CREATE VIEW mirror_status AS
WITH ids (directory_id) AS (
    SELECT id FROM directories UNION SELECT directory_id FROM sync_state
),
per_directory AS (
    SELECT ids.directory_id,
           CASE WHEN s.held_reason IS NOT NULL THEN 'held'
                WHEN s.last_error IS NOT NULL THEN 'failing'
                WHEN r.directory_id IS NOT NULL THEN 'syncing'
                WHEN s.full_sync_finished_at IS NOT NULL THEN 'ok'
                ELSE 'never_synced' END AS state,
           d.name, d.organization_id,
           COALESCE(r.started_at, s.full_sync_started_at) AS last_full_sync_started_at,
           s.full_sync_finished_at AS last_full_sync_finished_at,
           s.last_event_at, s.held_reason, s.last_error, s.last_error_at
    FROM ids
    LEFT JOIN directories d ON d.id = ids.directory_id
    LEFT JOIN sync_state s ON s.directory_id = ids.directory_id
    LEFT JOIN full_sync_runs r ON r.directory_id = ids.directory_id
),
feed (max_seq) AS (
    SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)
)
SELECT p.directory_id, p.state, p.name, p.organization_id, p.last_full_sync_started_at,
       p.last_full_sync_finished_at, p.last_event_at, ds.caught_up_at, p.held_reason,
       p.last_error, p.last_error_at,
       NULL AS daemon_pid, NULL AS daemon_started_at, NULL AS min_seq, NULL AS max_seq,
       NULL AS schema_version, NULL AS poll_interval_seconds, NULL AS status_heartbeat_seconds
FROM per_directory p, daemon_status ds
UNION ALL
SELECT '*',
       CASE WHEN ds.last_error IS NOT NULL THEN 'failing'
            WHEN NOT EXISTS (SELECT 1 FROM per_directory) THEN 'never_synced'
            WHEN EXISTS (SELECT 1 FROM per_directory WHERE state = 'held') THEN 'held'
            WHEN EXISTS (SELECT 1 FROM per_directory WHERE state = 'failing') THEN 'failing'
            WHEN EXISTS (SELECT 1 FROM per_directory WHERE state = 'syncing') THEN 'syncing'
            WHEN EXISTS (SELECT 1 FROM per_directory WHERE state = 'never_synced')
                THEN 'never_synced'
            ELSE 'ok' END,
       NULL, NULL,
       (SELECT MAX(last_full_sync_started_at) FROM per_directory),
       (SELECT MAX(last_full_sync_finished_at) FROM per_directory),
       ds.last_event_at, ds.caught_up_at, NULL, ds.last_error, ds.last_error_at,
       ds.daemon_pid, ds.daemon_started_at,
       COALESCE((SELECT MIN(seq) FROM changes), feed.max_seq + 1), feed.max_seq,
       (SELECT user_version FROM pragma_user_version),
       ds.poll_interval_seconds, ds.status_heartbeat_seconds
FROM daemon_status ds, feed;
