// The Prometheus metrics (GET /metrics) and the health check (GET /healthz), rendered with
// prometheus-cpp from what the API client, the scheduler and the mirror know at scrape time.
#pragma once

#include "api/api_client.hpp"
#include "sched/scheduler.hpp"
#include "store/status_report.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Histogram;
} // namespace prometheus

namespace dirsync::daemon {

class Metrics {
public:
    // `read_status` reads the mirror at each scrape (store::read_status, pg::read_status).
    using StatusReader = std::function<store::StatusReport()>;
    Metrics(api::ApiClient const& api, sched::Scheduler const& scheduler, StatusReader read_status);
    ~Metrics();
    Metrics(Metrics const&) = delete;
    Metrics& operator=(Metrics const&) = delete;

    void observe_full_sync(std::chrono::duration<double> took);
    // The text exposition format (version 0.0.4). Throws the database's error when the mirror
    // cannot be read.
    std::string render();

private:
    api::ApiClient const& api_;
    sched::Scheduler const& scheduler_;
    StatusReader read_status_;
    // what accumulates between scrapes; the rest is read fresh at each scrape
    std::unique_ptr<prometheus::Registry> lasting_;
    prometheus::Histogram* full_sync_duration_;
};

} // namespace dirsync::daemon
