// The SQL of the merge and of every upsert, as pure functions of the tables they touch: no
// database, so each statement's text can be unit-tested. Internal to lib/store.
#pragma once

#include "store/store_sql.hpp"

#include <string>
#include <vector>

namespace dirsync::store::sql {

// "a, b, c" with each name prefixed ("" or ":" or "s.").
std::string column_list(std::vector<char const*> const& cols, char const* prefix);

// INSERT INTO `table` (columns) `source` ON CONFLICT (id) DO UPDATE SET <every column but id>
// WHERE `condition`. `source` is "VALUES (...)" or a SELECT yielding the columns in order.
std::string upsert(char const* table, std::vector<char const*> const& columns,
                   std::string const& source, std::string const& condition);
// VALUES (:a, :b, ...) for `columns`.
std::string values(std::vector<char const*> const& columns);

// The upsert condition under which a copy replaces the row of `table`: it differs and is not
// older (a late, older copy must not win; an identical one is not rewritten).
std::string newer_and_different(char const* table);

// The merge of a staged directory into the live tables. Events keep arriving while a directory
// is listed, and what they changed is newer than the snapshot: every statement leaves alone an
// object with a change row in (:start_seq, :merge_seq], the window between the start of staging
// and the merge's own writes. Parameters: :dir, :now, :start_seq, :merge_seq.
std::string touched_by_event(char const* entity, char const* id_expr);
std::string merge_upserted_changes(EntityTable const& t); // changes rows of new/changed rows
std::string merge_upserts(EntityTable const& t);
std::string merge_deleted_changes(EntityTable const& t); // changes rows of rows not staged
std::string merge_deletes(EntityTable const& t);
std::string merge_added_membership_changes();
std::string merge_added_memberships();
std::string merge_removed_membership_changes();
std::string merge_removed_memberships();
// Memberships of this directory whose user or group is gone (an end kept by an event may have
// lost the other end to this merge).
std::string merge_dangling_memberships();

} // namespace dirsync::store::sql
