// Writes that several of the PostgreSQL mirror's stores share: a directory's removal, the
// event times of mirror_status, and the ISO 8601 text of a timestamptz column.
#pragma once

#include "model/timestamp.hpp"
#include "pg/change_feed.hpp"
#include "pg/connection.hpp"
#include "store/event_page.hpp"

#include <string>

namespace dirsync::pg {

// Deletes the directory with its memberships, users, groups, sync state and staging, recording
// each deletion in `changes` (memberships, users, groups, then the directory, as the README
// documents). Returns false when the directory was not mirrored. Call inside a transaction.
bool delete_directory_rows(Connection& db, ChangeFeed& feed, std::string const& directory_id,
                           std::string const& now);

// Drops the directory's full sync in progress: its staging and its run.
void clear_staging(Connection& db, std::string const& directory_id);

// Records the newest event applied per directory (sync_state.last_event_at) and over all
// (daemon_status.last_event_at).
void record_event_times(Connection& db, store::EventTimes const& times);

// An SQL expression for a timestamptz column as the API writes instants
// (2026-12-02T10:00:00.000Z), whatever the session's TimeZone and DateStyle.
std::string iso_text(char const* column);

} // namespace dirsync::pg
