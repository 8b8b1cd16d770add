#include "store/checkpointer.hpp"

#include "store/staging_file.hpp"

#include <SQLiteCpp/Statement.h>

#include <sqlite3.h>

namespace dirsync::store {

Checkpointer::Checkpointer(SQLite::Database& writer, std::string const& mirror_path,
                           int threshold_frames)
    : writer_(writer)
    , connection_(mirror_path, SQLite::OPEN_READWRITE)
    , threshold_(threshold_frames)
{
    int persist = 1; // whichever connection closes last keeps the WAL files (readers need them)
    sqlite3_file_control(connection_.getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    // The staging file under the name it has on the writer's connection.
    SQLite::Statement attach(connection_, "ATTACH DATABASE ? AS staging");
    attach.bind(1, staging_path(mirror_path));
    attach.exec();
    thread_ = std::thread(&Checkpointer::run, this);
    sqlite3_wal_hook(writer_.getHandle(), &Checkpointer::on_commit, this);
}

Checkpointer::~Checkpointer()
{
    // Back to SQLite's auto-checkpoint for whatever the connection still commits.
    sqlite3_wal_autocheckpoint(writer_.getHandle(), threshold_);
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

int Checkpointer::runs() const
{
    std::lock_guard lock(mutex_);
    return runs_;
}

int Checkpointer::on_commit(void* self, sqlite3*, char const* schema, int frames)
{
    auto& me = *static_cast<Checkpointer*>(self);
    if (frames >= me.threshold_) {
        {
            std::lock_guard lock(me.mutex_);
            me.due_.insert(schema);
        }
        me.wake_.notify_one();
    }
    return SQLITE_OK;
}

void Checkpointer::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !due_.empty(); });
        if (stop_)
            return;
        auto const schema = *due_.begin();
        due_.erase(due_.begin());
        lock.unlock();
        // Errors (SQLITE_BUSY while another checkpoint runs, an I/O error) leave the frames in
        // the WAL, where readers still find them; the next commit over the threshold tries again.
        sqlite3_wal_checkpoint_v2(connection_.getHandle(), schema.c_str(),
                                  SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        lock.lock();
        ++runs_;
    }
}

} // namespace dirsync::store
