-- dirsyncd mirror in PostgreSQL, schema version 6: the contract of the SQLite mirror at the same
-- version (schema/001..006), created at once. PostgreSQL support starts at version 6, so there is
-- no PostgreSQL mirror of an older version to migrate; later versions come as a pair of files
-- with one number, schema/NNN_*.sql and schema/postgres/NNN_*.sql.
--
-- The tables live in the schema that `database_schema` names (default dirsyncd): dirsyncd sets
-- search_path to it before running this file. Types, where they differ from SQLite's TEXT and
-- INTEGER (README.md, "Many hosts", lists every column):
--   * timestamps are timestamptz (the API's ISO 8601 text, as a point in time);
--   * raw_json, custom_attributes and raw_attributes are jsonb, so readers can index and query
--     them (raw_json->>'job_title', custom_attributes @> '{"department": "Sales"}');
--   * counts, seq and microsecond values are bigint.
-- custom_attributes and raw_attributes are computed from raw_json (stored generated columns):
-- they can never disagree with it.

CREATE TABLE directories (
    id              text PRIMARY KEY,
    organization_id text,
    name            text,
    domain          text,
    type            text,
    state           text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    raw_json        jsonb NOT NULL,
    updated_at_us   bigint NOT NULL -- updated_at as microseconds since the epoch (comparisons)
);
CREATE INDEX directories_by_organization ON directories (organization_id);

CREATE TABLE users (
    id                text PRIMARY KEY,
    directory_id      text NOT NULL,
    organization_id   text,
    idp_id            text,
    email             text,
    first_name        text,
    last_name         text,
    state             text NOT NULL,
    role              text,
    custom_attributes jsonb GENERATED ALWAYS AS (raw_json -> 'custom_attributes') STORED,
    raw_attributes    jsonb GENERATED ALWAYS AS (raw_json -> 'raw_attributes') STORED,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    raw_json          jsonb NOT NULL,
    updated_at_us     bigint NOT NULL
);
-- (directory_id, id): a full sync walks a directory's users in id order
CREATE INDEX users_by_directory ON users (directory_id, id);
-- SQLite's COLLATE NOCASE: look a user up with lower(email) = lower($1)
CREATE INDEX users_by_email ON users (lower(email));
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE groups (
    id              text PRIMARY KEY,
    directory_id    text NOT NULL,
    organization_id text,
    idp_id          text,
    name            text NOT NULL,
    raw_attributes  jsonb GENERATED ALWAYS AS (raw_json -> 'raw_attributes') STORED,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    raw_json        jsonb NOT NULL,
    updated_at_us   bigint NOT NULL
);
CREATE INDEX groups_by_directory_name ON groups (directory_id, name);

CREATE TABLE memberships (
    user_id      text NOT NULL,
    group_id     text NOT NULL,
    directory_id text NOT NULL,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_by_group ON memberships (group_id);
CREATE INDEX memberships_by_directory ON memberships (directory_id);

-- Append-only feed of what changed. seq comes from the identity's sequence, changes_seq_seq:
-- never reused, also after pruning. After each commit that adds rows, the daemon sends
-- NOTIFY dirsyncd_changes with the highest seq as payload.
CREATE TABLE changes (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at   timestamptz NOT NULL,
    directory_id text NOT NULL,
    entity       text NOT NULL CHECK (entity IN ('directory', 'user', 'group', 'membership')),
    entity_id    text NOT NULL,
    op           text NOT NULL CHECK (op IN ('upsert', 'delete'))
);

-- One row per mirrored directory: its last full sync, its last error, its last held sync.
CREATE TABLE sync_state (
    directory_id          text PRIMARY KEY,
    full_sync_started_at  timestamptz,
    full_sync_finished_at timestamptz,
    user_count            bigint,
    group_count           bigint,
    membership_count      bigint,
    membership_strategy   text,
    request_count         bigint,
    last_error            text,
    last_error_at         timestamptz,
    held_reason           text,
    held_at               timestamptz,
    last_event_at         timestamptz
);

-- Where the event stream stands, saved in the same transaction as the events' effects.
CREATE TABLE event_stream (
    id                integer PRIMARY KEY CHECK (id = 1),
    cursor            text,
    cursor_created_at timestamptz,
    range_start       timestamptz,
    updated_at        timestamptz NOT NULL
);

-- Events that could not be decoded or applied, kept for an operator. raw_json is text: it may
-- be what made the event undecodable.
CREATE TABLE quarantined_events (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       text,
    event_type     text,
    reason         text NOT NULL,
    raw_json       text NOT NULL,
    quarantined_at timestamptz NOT NULL
);

-- Objects deleted by an event, so that an older copy cannot bring them back.
CREATE TABLE tombstones (
    entity        text NOT NULL,
    id            text NOT NULL,
    directory_id  text NOT NULL,
    updated_at_us bigint NOT NULL,
    deleted_at    timestamptz NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE INDEX tombstones_by_time ON tombstones (deleted_at);

-- The full syncs in progress, one per directory.
CREATE TABLE full_sync_runs (
    directory_id text PRIMARY KEY,
    run_id       text NOT NULL,
    started_at   timestamptz NOT NULL
);

-- What events changed in a directory while its full sync was listing it.
CREATE TABLE resync_touched (
    entity       text NOT NULL,
    entity_id    text NOT NULL,
    directory_id text NOT NULL,
    PRIMARY KEY (entity, entity_id)
);

-- The writing daemon as a whole (one row).
CREATE TABLE daemon_status (
    id                       integer PRIMARY KEY CHECK (id = 1),
    daemon_pid               integer,
    daemon_started_at        timestamptz,
    caught_up_at             timestamptz,
    last_event_at            timestamptz,
    last_error               text,
    last_error_at            timestamptz,
    poll_interval_seconds    double precision,
    status_heartbeat_seconds double precision
);
INSERT INTO daemon_status (id) VALUES (1);

-- The dirsyncd that wait for the writer lease (one per host; lib/pg/daemon_status): each writes
-- its row when it starts waiting and at each try, and deletes it when it becomes the writer or
-- stops. mirror_status shows those seen within 3 of their poll intervals.
CREATE TABLE standbys (
    host                  text NOT NULL,
    pid                   integer NOT NULL,
    since                 timestamptz NOT NULL,
    seen_at               timestamptz NOT NULL,
    poll_interval_seconds double precision NOT NULL,
    PRIMARY KEY (host, pid)
);

-- The public freshness view, as in schema/005_mirror_status.sql. max_seq is the sequence's last
-- value (0 before the first change), so it holds also when the newest rows were pruned.
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
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq_seq
)
SELECT p.directory_id, p.state, p.name, p.organization_id, p.last_full_sync_started_at,
       p.last_full_sync_finished_at, p.last_event_at, ds.caught_up_at, p.held_reason,
       p.last_error, p.last_error_at,
       NULL::integer AS daemon_pid, NULL::timestamptz AS daemon_started_at,
       NULL::bigint AS min_seq, NULL::bigint AS max_seq, NULL::integer AS schema_version,
       NULL::double precision AS poll_interval_seconds,
       NULL::double precision AS status_heartbeat_seconds
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
       (SELECT version FROM schema_version),
       ds.poll_interval_seconds, ds.status_heartbeat_seconds
FROM daemon_status ds, feed
UNION ALL
-- One row per live standby: directory_id 'standby:<host>:<pid>', state 'standby', name its
-- host, caught_up_at its last try of the lease, daemon_pid and daemon_started_at its own.
SELECT 'standby:' || sb.host || ':' || sb.pid, 'standby', sb.host, NULL, NULL, NULL, NULL,
       sb.seen_at, NULL, NULL, NULL, sb.pid, sb.since, NULL, NULL,
       (SELECT version FROM schema_version), sb.poll_interval_seconds, NULL
FROM standbys sb
WHERE sb.seen_at > now() - 3 * sb.poll_interval_seconds * interval '1 second';

-- A full sync's progress and what it staged: the SQLite mirror keeps these in its private
-- staging file; here they live in the database, so that a standby taking over resumes the
-- writer's sync. Internal to dirsyncd (apps read the tables above). UNLOGGED: they write no
-- WAL (a first sync stages every object once more) and a crash of the server empties them,
-- which costs a restarted listing, never the mirror: staging_runs empties with them, and a
-- full_sync_runs row without its staging run is dropped and the sync starts over.
CREATE UNLOGGED TABLE staging_runs (
    directory_id  text PRIMARY KEY,
    run_id        text NOT NULL,   -- matches full_sync_runs.run_id
    started_at    timestamptz NOT NULL,
    started_at_us bigint NOT NULL,
    phase         text NOT NULL CHECK (phase IN ('groups', 'users', 'memberships', 'done')),
    cursor        text,            -- `after` of the next page of the groups or users listing
    high_id       text,            -- the largest id that listing has compared with the mirror
    strategy      text,            -- membership strategy, once chosen
    listed_groups bigint NOT NULL DEFAULT 0,
    listed_users  bigint NOT NULL DEFAULT 0
);
-- New or changed objects, as they will be written to the mirror.
CREATE UNLOGGED TABLE staged_users (
    id              text PRIMARY KEY,
    directory_id    text NOT NULL,
    organization_id text,
    idp_id          text,
    email           text,
    first_name      text,
    last_name       text,
    state           text NOT NULL,
    role            text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    raw_json        jsonb NOT NULL,
    updated_at_us   bigint NOT NULL
);
CREATE INDEX staged_users_by_directory ON staged_users (directory_id);
CREATE UNLOGGED TABLE staged_groups (
    id              text PRIMARY KEY,
    directory_id    text NOT NULL,
    organization_id text,
    idp_id          text,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    raw_json        jsonb NOT NULL,
    updated_at_us   bigint NOT NULL
);
CREATE INDEX staged_groups_by_directory ON staged_groups (directory_id);
-- Mirrored users and groups the listing has passed over: gone upstream, deleted by the merge.
CREATE UNLOGGED TABLE staged_deletions (
    entity       text NOT NULL CHECK (entity IN ('user', 'group')),
    id           text NOT NULL,
    directory_id text NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE INDEX staged_deletions_by_directory ON staged_deletions (directory_id);
-- The groups (per_group) or users (per_user) whose memberships are listed, each with its own
-- position, so that several are listed at once and each resumes where it stopped.
CREATE UNLOGGED TABLE staged_owners (
    directory_id text NOT NULL,
    id           text NOT NULL,
    cursor       text,
    high_id      text,
    done         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (directory_id, id)
);
-- Memberships the listing found added or removed, compared with the mirror.
CREATE UNLOGGED TABLE staged_membership_diff (
    directory_id text NOT NULL,
    group_id     text NOT NULL,
    user_id      text NOT NULL,
    op           text NOT NULL CHECK (op IN ('add', 'delete')),
    PRIMARY KEY (directory_id, group_id, user_id)
);
