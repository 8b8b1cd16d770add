// The Prometheus metrics (GET /metrics) and the health check (GET /healthz), rendered with
// prometheus-cpp from what the API client, the scheduler and the mirror know at scrape time.
#pragma once

#include "api/api_client.hpp"
#include "sched/scheduler.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace SQLite {
class Database;
}
namespace prometheus {
class Registry;
template <typename T>
class Family;
class Histogram;
} // namespace prometheus

namespace dirsync::daemon {

class Metrics {
public:
    Metrics(api::ApiClient const& api, sched::Scheduler const& scheduler, SQLite::Database& db);
    ~Metrics();
    Metrics(Metrics const&) = delete;
    Metrics& operator=(Metrics const&) = delete;

    void observe_full_sync(std::chrono::duration<double> took);
    // The text exposition format (version 0.0.4). Throws SQLite::Exception when the mirror
    // cannot be read.
    std::string render();

private:
    api::ApiClient const& api_;
    sched::Scheduler const& scheduler_;
    SQLite::Database& db_;
    // what accumulates between scrapes; the rest is read fresh at each scrape
    std::unique_ptr<prometheus::Registry> lasting_;
    prometheus::Histogram* full_sync_duration_;
};

} // namespace dirsync::daemon
