#include "pg/writer_lease.hpp"

#include <fmt/format.h>

namespace dirsync::pg {
namespace {

std::string lock_name(std::string const& schema)
{
    return "dirsyncd writer:" + schema;
}

// The lease's row in pg_locks, for the lock name in $1: (classid, objid) are the key's high and
// low halves.
constexpr char const* lease_lock = "locktype = 'advisory' AND granted AND objsubid = 1 AND "
                                   "classid::bigint = ((hashtextextended($1, 0) >> 32) & "
                                   "4294967295) AND objid::bigint = (hashtextextended($1, 0) & "
                                   "4294967295)";

} // namespace

WriterLease::WriterLease(Connection& db, std::string const& schema,
                         std::chrono::milliseconds idle_timeout)
    : db_(db)
    , name_(lock_name(schema))
{
    auto const ms = std::to_string(idle_timeout.count());
    // SET takes no parameters; the values are integers made here.
    db_.exec(fmt::format("SET idle_session_timeout = {0}; "
                         "SET idle_in_transaction_session_timeout = {0}; "
                         "SET tcp_user_timeout = {0}",
                         ms));
}

bool WriterLease::try_acquire()
{
    if (held_)
        return confirm();
    held_ =
        db_.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {name_}).text(0, 0) == "t";
    return held_;
}

bool WriterLease::confirm()
{
    if (!held_)
        return false;
    try {
        auto const r = db_.exec(std::string("SELECT count(*) FROM pg_locks WHERE pid = "
                                            "pg_backend_pid() AND ") +
                                    lease_lock,
                                {name_});
        held_ = r.integer(0, 0) == 1;
    } catch (Error const& e) {
        if (!e.connection_lost)
            throw;
        held_ = false;
    }
    return held_;
}

void WriterLease::release()
{
    if (!held_)
        return;
    held_ = false;
    if (db_.alive())
        db_.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {name_});
}

bool WriterLease::taken(Connection& db, std::string const& schema)
{
    return db.exec(std::string("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ") + lease_lock + ")",
                   {lock_name(schema)})
               .text(0, 0) == "t";
}

long long WriterLease::key(Connection& db, std::string const& schema)
{
    return db.exec("SELECT hashtextextended($1, 0)", {lock_name(schema)}).integer(0, 0);
}

} // namespace dirsync::pg
