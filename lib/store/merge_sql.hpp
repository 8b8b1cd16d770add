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
                   std::string const& source, std::string const& condition,
                   std::vector<char const*> const& leave_out = {});
// Sets the `keyed` columns of row :id to the bound values, where they differ (the part of an
// upsert that left them out).
std::string rekey(char const* table, std::vector<char const*> const& keyed);
// VALUES (:a, :b, ...) for `columns`.
std::string values(std::vector<char const*> const& columns);

// The upsert condition under which a copy replaces the row of `table`: it differs and is not
// older (a late, older copy must not win; an identical one is not rewritten).
std::string newer_and_different(char const* table);

// Its negation, as a lookup of row :id in `table`: column 0 is true when the row holds the copy
// bound as :raw_json and :updated_at_us, or a newer one (an upsert of that copy would change
// nothing); column 1 when one of its `keyed` columns differs from the bound one (the upsert
// needs its rekey). No row when there is none.
std::string stored_copy(char const* table, std::vector<char const*> const& keyed);

// The merge of a staged directory into the live tables (parameters :dir, :now), step by step.
// Each step first records what it will change in `changes` (deciding it once), then applies
// exactly the rows it recorded: those after :since_seq, the last seq before the record. It
// leaves alone what an event changed while the directory was being listed (resync_touched: the
// event is newer than the snapshot) and never brings back what an event deleted (a tombstone
// as new). Every membership whose user or group goes goes with it, so none is left dangling.
struct MergeStep {
    std::string record, apply;
};
MergeStep merge_upserts(EntityTable const& t);
MergeStep merge_added_memberships();
MergeStep merge_removed_memberships();
// The users and groups the listing passed over: their memberships, then the rows.
MergeStep merge_memberships_of_gone();
MergeStep merge_deletes(EntityTable const& t);

} // namespace dirsync::store::sql
