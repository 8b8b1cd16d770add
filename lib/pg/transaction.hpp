// A transaction on the PostgreSQL mirror: rolled back unless committed, also when the code
// between throws. A lost session has nothing left to roll back.
#pragma once

#include "pg/connection.hpp"

namespace dirsync::pg {

class Transaction {
public:
    // `begin`: "BEGIN", or one with an isolation level ("BEGIN ISOLATION LEVEL ...").
    explicit Transaction(Connection& db, char const* begin = "BEGIN")
        : db_(db)
    {
        db_.exec(begin);
    }
    ~Transaction()
    {
        if (done_ || !db_.alive())
            return;
        try {
            db_.exec("ROLLBACK");
        } catch (Error const&) { // the session went meanwhile: so did the transaction
        }
    }
    Transaction(Transaction const&) = delete;
    Transaction& operator=(Transaction const&) = delete;

    void commit()
    {
        done_ = true; // a COMMIT that fails ends the transaction too
        db_.exec("COMMIT");
    }

private:
    Connection& db_;
    bool done_ = false;
};

} // namespace dirsync::pg
