-- dirsyncd mirror, schema version 1.
-- Tables directories, users, groups, memberships, changes and sync_state are the public contract
-- that apps read (see README.md). The staging tables belong to dirsyncd alone.

CREATE TABLE directories (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    name            TEXT,
    domain          TEXT,
    type            TEXT,
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    raw_json        TEXT NOT NULL,
    updated_at_us   INTEGER NOT NULL -- updated_at as microseconds since the epoch (comparisons)
);
CREATE INDEX directories_by_organization ON directories (organization_id);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    directory_id      TEXT NOT NULL,
    organization_id   TEXT,
    idp_id            TEXT,
    email             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    state             TEXT NOT NULL,
    role              TEXT,
    custom_attributes TEXT,
    raw_attributes    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    raw_json          TEXT NOT NULL,
    updated_at_us     INTEGER NOT NULL
);
CREATE INDEX users_by_directory ON users (directory_id);
CREATE INDEX users_by_email ON users (email COLLATE NOCASE);
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE groups (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL,
    organization_id TEXT,
    idp_id          TEXT,
    name            TEXT NOT NULL,
    raw_attributes  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    raw_json        TEXT NOT NULL,
    updated_at_us   INTEGER NOT NULL
);
CREATE INDEX groups_by_directory_name ON groups (directory_id, name);

CREATE TABLE memberships (
    user_id      TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_group ON memberships (group_id);
CREATE INDEX memberships_by_directory ON memberships (directory_id);

-- Append-only feed of what changed; AUTOINCREMENT so a seq is never reused after pruning.
CREATE TABLE changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at   TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    entity       TEXT NOT NULL CHECK (entity IN ('directory', 'user', 'group', 'membership')),
    entity_id    TEXT NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
);

-- One row per mirrored directory: its last full sync and its last error.
CREATE TABLE sync_state (
    directory_id          TEXT PRIMARY KEY,
    full_sync_started_at  TEXT,
    full_sync_finished_at TEXT,
    user_count            INTEGER,
    group_count           INTEGER,
    membership_count      INTEGER,
    membership_strategy   TEXT,
    request_count         INTEGER,
    last_error            TEXT,
    last_error_at         TEXT
);

-- Staging of a full sync in progress: pages land here (one transaction each, with the listing
-- position), and one transaction merges a finished directory into the live tables.
CREATE TABLE staging_runs (
    directory_id  TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    started_at_us INTEGER NOT NULL,
    phase         TEXT NOT NULL,  -- groups, users, memberships, done
    owner         TEXT,           -- memberships phase: the group or user being listed
    cursor        TEXT,           -- `after` of the next page to fetch
    strategy      TEXT            -- membership strategy, once chosen
);

-- raw_json NULL marks a record the API sent but that could not be decoded: the stored copy is kept.
CREATE TABLE staged_users (
    id                TEXT PRIMARY KEY,
    directory_id      TEXT NOT NULL,
    organization_id   TEXT,
    idp_id            TEXT,
    email             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    state             TEXT,
    role              TEXT,
    custom_attributes TEXT,
    raw_attributes    TEXT,
    created_at        TEXT,
    updated_at        TEXT,
    raw_json          TEXT,
    updated_at_us     INTEGER
);
CREATE INDEX staged_users_by_directory ON staged_users (directory_id);

CREATE TABLE staged_groups (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL,
    organization_id TEXT,
    idp_id          TEXT,
    name            TEXT,
    raw_attributes  TEXT,
    created_at      TEXT,
    updated_at      TEXT,
    raw_json        TEXT,
    updated_at_us   INTEGER
);
CREATE INDEX staged_groups_by_directory ON staged_groups (directory_id);

CREATE TABLE staged_memberships (
    user_id      TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX staged_memberships_by_directory ON staged_memberships (directory_id);
