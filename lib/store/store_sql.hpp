// SQL shared by the full-sync store (mirror_store.cpp) and the event store (event_store.cpp).
// Internal to lib/store.
#pragma once

#include "model/model.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <optional>
#include <string>
#include <vector>

namespace dirsync::store::sql {

// Every write transaction takes the write lock at BEGIN (IMMEDIATE): a wait for another
// process's lock happens there, under the busy handler, and never fails halfway through on a
// read snapshot that went stale (SQLITE_BUSY_SNAPSHOT).
class WriteTransaction : public SQLite::Transaction {
public:
    explicit WriteTransaction(SQLite::Database& db)
        : SQLite::Transaction(db, SQLite::TransactionBehavior::IMMEDIATE)
    {
    }
};

// A live table replaced row by row, and its staging twin. SQL is generated from these lists
// (identifiers only; every value is bound).
struct EntityTable {
    char const* live;
    char const* staged;
    char const* entity; // value of changes.entity
    std::vector<char const*> columns;
};
extern EntityTable const users_table;
extern EntityTable const groups_table;

// "a, b, c" with each name prefixed ("" or ":").
std::string column_list(std::vector<char const*> const& cols, char const* prefix);
// "b = excluded.b, ..." for every column but id.
std::string update_list(std::vector<char const*> const& cols);

void bind_opt(SQLite::Statement& st, char const* name, std::optional<std::string> const& v);
// A nullable text column of the current row.
std::optional<std::string> optional_text(SQLite::Statement& q, int column);
// reset() keeps the bindings: clear them too before reuse.
void rearm(SQLite::Statement& st);

// Runs `sql` with :dir (and :now when it appears) bound; returns the number of changed rows.
int run(SQLite::Database& db, std::string const& sql, std::string const& dir,
        std::string const& now);

std::int64_t count_where(SQLite::Database& db, char const* table, std::string const& dir);

// Appends one row to the changes feed.
void record_change(SQLite::Database& db, std::string const& now, std::string const& directory_id,
                   char const* entity, std::string const& entity_id, char const* op);

// Upserts the directory unless the stored copy is the same or newer; records the change.
// Returns true when the row changed.
bool upsert_directory(SQLite::Database& db, Directory const& d, std::string const& now);

// Binds a user's or group's columns (":id", ":directory_id", ...) to `st`.
void bind_user(SQLite::Statement& st, User const& u);
void bind_group(SQLite::Statement& st, Group const& g);

// Deletes the directory with its memberships, users, groups, sync state and staging, recording
// each deletion in `changes`. Returns false when the directory was not mirrored.
bool delete_directory_rows(SQLite::Database& db, std::string const& directory_id,
                           std::string const& now);

void clear_staging(SQLite::Database& db, std::string const& directory_id);

} // namespace dirsync::store::sql
