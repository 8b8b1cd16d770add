// SQL helpers shared by the stores of lib/store: transactions, binding, the rows every store
// writes (changes, directories, users, groups). Internal to lib/store.
#pragma once

#include "model/model.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cstdint>
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
// (identifiers only; every value is bound). The columns are the stored ones: the others are
// computed from raw_json (schema/004_compact_rows.sql).
struct EntityTable {
    char const* live;
    char const* staged;
    char const* entity;               // value of changes.entity
    std::vector<char const*> columns; // stored in the live table and in its staging twin
    // Of those, the ones an index covers besides id. An update that sets one rewrites its index
    // entries even when the value is the same, so event upserts leave them to `rekey` (they
    // seldom change: a user's email, a group's name).
    std::vector<char const*> keyed;
};
extern EntityTable const users_table;
extern EntityTable const groups_table;

// The named values a statement may use; bind_named binds those the statement has.
struct Params {
    std::optional<std::string> dir{};        // :dir
    std::optional<std::string> now{};        // :now
    std::optional<std::int64_t> since_seq{}; // :since_seq
};
void bind_named(SQLite::Statement& st, Params const& params);
// Prepares `sql`, binds `params`, runs it; returns the number of changed rows.
int run(SQLite::Database& db, std::string const& sql, Params const& params);

void bind_opt(SQLite::Statement& st, char const* name, std::optional<std::string> const& v);
// A nullable text column of the current row.
std::optional<std::string> optional_text(SQLite::Statement& q, int column);
// Makes a prepared statement ready for its next run, whatever its last run ended with:
// reset() keeps the bindings, so they are cleared too.
void rearm(SQLite::Statement& st);

std::int64_t count_where(SQLite::Database& db, char const* table, std::string const& dir);

// Appends rows to the changes feed, with one prepared statement.
class ChangeLog {
public:
    explicit ChangeLog(SQLite::Database& db);
    void record(std::string const& now, std::string const& directory_id, char const* entity,
                std::string const& entity_id, char const* op);

private:
    SQLite::Statement insert_;
};

// Upserts the directory unless the stored copy is the same or newer; records the change.
// Returns true when the row changed.
bool upsert_directory(SQLite::Database& db, Directory const& d, std::string const& now);

// Binds those of a user's or group's columns (":id", ":directory_id", ...) that `st` names.
void bind_entity(SQLite::Statement& st, User const& u);
void bind_entity(SQLite::Statement& st, Group const& g);

// Deletes the directory with its memberships, users, groups, sync state and staging, recording
// each deletion in `changes`. Returns false when the directory was not mirrored.
bool delete_directory_rows(SQLite::Database& db, std::string const& directory_id,
                           std::string const& now);

// Drops the directory's full sync in progress: its staging and its run.
void clear_staging(SQLite::Database& db, std::string const& directory_id);

} // namespace dirsync::store::sql
