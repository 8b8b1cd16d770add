-- dirsyncd mirror, schema version 4: each JSON text stored once, staging outside this file.
--
-- users and groups keep the columns apps read, in the same order. Short fields are stored; the
-- object's JSON fields (custom_attributes, raw_attributes) and its timestamps are computed from
-- raw_json when read (VIRTUAL generated columns: no bytes on disk), so the JSON text is stored
-- once. Readers need SQLite 3.31 or newer.

CREATE TABLE users_v4 (
    id                TEXT PRIMARY KEY,
    directory_id      TEXT NOT NULL,
    organization_id   TEXT,
    idp_id            TEXT,
    email             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    state             TEXT NOT NULL,
    role              TEXT,
    custom_attributes TEXT GENERATED ALWAYS AS
                          (json_extract(raw_json, '$.custom_attributes')) VIRTUAL,
    raw_attributes    TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.raw_attributes')) VIRTUAL,
    created_at        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.created_at')) VIRTUAL,
    updated_at        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.updated_at')) VIRTUAL,
    raw_json          TEXT NOT NULL,
    updated_at_us     INTEGER NOT NULL
);
INSERT INTO users_v4 (id, directory_id, organization_id, idp_id, email, first_name, last_name, state,
                      role, raw_json, updated_at_us)
SELECT id, directory_id, organization_id, idp_id, email, first_name, last_name, state, role,
       raw_json, updated_at_us
FROM users;
DROP TABLE users;
ALTER TABLE users_v4 RENAME TO users;
-- (directory_id, id): a full sync walks a directory's users in id order
CREATE INDEX users_by_directory ON users (directory_id, id);
CREATE INDEX users_by_email ON users (email COLLATE NOCASE);
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE groups_v4 (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL,
    organization_id TEXT,
    idp_id          TEXT,
    name            TEXT NOT NULL,
    raw_attributes  TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.raw_attributes')) VIRTUAL,
    created_at      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.created_at')) VIRTUAL,
    updated_at      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.updated_at')) VIRTUAL,
    raw_json        TEXT NOT NULL,
    updated_at_us   INTEGER NOT NULL
);
INSERT INTO groups_v4 (id, directory_id, organization_id, idp_id, name, raw_json, updated_at_us)
SELECT id, directory_id, organization_id, idp_id, name, raw_json, updated_at_us FROM groups;
DROP TABLE groups;
ALTER TABLE groups_v4 RENAME TO groups;
CREATE INDEX groups_by_directory_name ON groups (directory_id, name);

-- Staging moved to its own file (dirsyncd's private DATABASE.staging): what a full sync lists is
-- compared with these tables as it arrives, and only what differs is staged there.
DROP TABLE staged_memberships;
DROP TABLE staged_users;
DROP TABLE staged_groups;
DROP TABLE staging_runs;

-- The full syncs in progress, one per directory; the staging file holds their pages under the
-- same run_id (a staging file whose run is not here is stale and dropped).
CREATE TABLE full_sync_runs (
    directory_id TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    started_at   TEXT NOT NULL
) WITHOUT ROWID;

-- What events changed in a directory while its full sync was listing it: the merge leaves these
-- alone (the event is newer than the snapshot). Cleared by the merge.
-- (Key columns first: SQLite 3.40's integrity_check misreports NOT NULL columns declared before
-- the key of a WITHOUT ROWID table as NULL.)
CREATE TABLE resync_touched (
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id)
) WITHOUT ROWID;

-- The merge no longer looks changes up by entity, and pruning walks them in seq order.
DROP INDEX changes_by_entity;
DROP INDEX changes_by_time;
