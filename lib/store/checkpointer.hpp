// Checkpoints the mirror's WAL (and the staging file's) from a thread of its own, so that the
// writer never waits for the copy of its pages into the database file and the fsync that ends it:
// a fifth of a busy event stream's time and most of its waiting, with SQLite's auto-checkpoint,
// which runs inside the COMMIT that crosses the threshold.
//
// Replaces the auto-checkpoint of the writer's connection (sqlite3_wal_hook): when a commit leaves
// `threshold_frames` or more in a WAL, the thread runs a PASSIVE checkpoint of that file on its
// own connection. PASSIVE never blocks the writer or a reader; what it cannot copy yet (a reader
// still needs the frames) it copies the next time. The last checkpoint is SQLite's own, when the
// writer's connection closes.
#pragma once

#include <SQLiteCpp/Database.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

struct sqlite3;

namespace dirsync::store {

class Checkpointer {
public:
    // `writer` must outlive this object; `mirror_path` is the file it has open.
    Checkpointer(SQLite::Database& writer, std::string const& mirror_path, int threshold_frames);
    ~Checkpointer(); // unhooks the writer, then stops and joins the thread
    Checkpointer(Checkpointer const&) = delete;
    Checkpointer& operator=(Checkpointer const&) = delete;

    // How many checkpoints the thread has run (for tests).
    int runs() const;

private:
    static int on_commit(void* self, sqlite3* db, char const* schema, int frames);
    void run();

    SQLite::Database& writer_;
    // Its own connection, used by the thread only: a checkpoint on the writer's would run in
    // the writer's thread.
    SQLite::Database connection_;
    int const threshold_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::set<std::string> due_; // "main", "staging": the files to checkpoint
    bool stop_ = false;
    int runs_ = 0;
    std::thread thread_;
};

} // namespace dirsync::store
