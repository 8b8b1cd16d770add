#include "metrics.hpp"

#include "model/timestamp.hpp"
#include "store/status_report.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sstream>

namespace dirsync::daemon {
namespace prom = prometheus;

namespace {

double seconds_of(std::optional<std::string> const& at)
{
    if (!at)
        return 0; // never: 0, so that "time() - x" alerts fire
    auto const micros = parse_timestamp(*at);
    return micros ? static_cast<double>(*micros) / 1e6 : 0;
}

prom::Family<prom::Counter>& counter(prom::Registry& r, char const* name, char const* help)
{
    return prom::BuildCounter().Name(name).Help(help).Register(r);
}

prom::Family<prom::Gauge>& gauge(prom::Registry& r, char const* name, char const* help)
{
    return prom::BuildGauge().Name(name).Help(help).Register(r);
}

std::string endpoint_label(api::Endpoint e)
{
    std::string name = api::endpoint_name(e); // "GET /directory_users"
    return name.substr(name.find(' ') + 1);
}

} // namespace

Metrics::Metrics(api::ApiClient const& api, sched::Scheduler const& scheduler,
                 StatusReader read_status)
    : api_(api)
    , scheduler_(scheduler)
    , read_status_(std::move(read_status))
    , lasting_(std::make_unique<prom::Registry>())
{
    // From a few seconds (small directories) to hours (a million users under the rate limits).
    full_sync_duration_ =
        &prom::BuildHistogram()
             .Name("dirsyncd_full_sync_duration_seconds")
             .Help("Wall time of each full sync of every directory that was applied")
             .Register(*lasting_)
             .Add({}, prom::Histogram::BucketBoundaries{1, 5, 15, 60, 300, 900, 3600, 14400});
}

Metrics::~Metrics() = default;

void Metrics::observe_full_sync(std::chrono::duration<double> took)
{
    full_sync_duration_->Observe(took.count());
}

std::string Metrics::render()
{
    auto const report = read_status_();
    prom::Registry now;

    gauge(now, "dirsyncd_build_info", "The running dirsyncd's version")
        .Add({{"version", DIRSYNCD_VERSION}})
        .Set(1);

    auto const& requests = api_.stats();
    auto& answered =
        counter(now, "dirsyncd_requests_total",
                "Answers from the WorkOS API by endpoint and HTTP status (code 0: no answer)");
    for (auto const& [key, n] : requests.answered)
        answered
            .Add({{"endpoint", endpoint_label(key.first)}, {"code", std::to_string(key.second)}})
            .Increment(static_cast<double>(n));
    counter(now, "dirsyncd_retries_total", "Requests sent again after a failed attempt")
        .Add({})
        .Increment(static_cast<double>(requests.retries));
    std::uint64_t throttled = 0;
    for (auto n : requests.throttled)
        throttled += n;
    counter(now, "dirsyncd_rate_limited_total", "429 answers from the WorkOS API")
        .Add({})
        .Increment(static_cast<double>(throttled));

    auto const& loops = scheduler_.stats();
    counter(now, "dirsyncd_events_applied_total", "Events that changed the mirror")
        .Add({})
        .Increment(static_cast<double>(loops.events_applied));
    counter(now, "dirsyncd_events_quarantined_total",
            "Events that could not be decoded or applied, kept in quarantined_events")
        .Add({})
        .Increment(static_cast<double>(loops.events_quarantined));
    counter(now, "dirsyncd_events_out_of_order_total",
            "Pages of /events whose ids did not ascend (each restarts the stream)")
        .Add({})
        .Increment(static_cast<double>(loops.events_out_of_order));

    gauge(now, "dirsyncd_last_caught_up_timestamp_seconds",
          "When a poll last reached the end of the event stream (0: never)")
        .Add({})
        .Set(seconds_of(report.caught_up_at));
    gauge(now, "dirsyncd_last_event_timestamp_seconds",
          "created_at of the newest applied event (0: none)")
        .Add({})
        .Set(seconds_of(report.last_event_at));
    gauge(now, "dirsyncd_changes_max_seq", "The newest seq of the changes feed")
        .Add({})
        .Set(static_cast<double>(report.max_seq));
    gauge(now, "dirsyncd_up", "1 when /healthz answers 200")
        .Add({})
        .Set(scheduler_.health().healthy ? 1 : 0);

    auto& objects = gauge(now, "dirsyncd_directory_objects",
                          "Rows mirrored per directory: users, groups, memberships");
    auto& last_full = gauge(now, "dirsyncd_directory_last_full_sync_timestamp_seconds",
                            "When the directory's last applied full sync finished (0: never)");
    auto& held = gauge(now, "dirsyncd_directory_held",
                       "1 while the directory's last full sync is held back");
    auto& failing =
        gauge(now, "dirsyncd_directory_failing", "1 while the directory's last full sync failed");
    for (auto const& d : report.directories) {
        objects.Add({{"directory", d.id}, {"kind", "users"}}).Set(static_cast<double>(d.users));
        objects.Add({{"directory", d.id}, {"kind", "groups"}}).Set(static_cast<double>(d.groups));
        objects.Add({{"directory", d.id}, {"kind", "memberships"}})
            .Set(static_cast<double>(d.memberships));
        last_full.Add({{"directory", d.id}}).Set(seconds_of(d.last_full_sync_finished_at));
        held.Add({{"directory", d.id}}).Set(d.state == "held" ? 1 : 0);
        failing.Add({{"directory", d.id}}).Set(d.state == "failing" ? 1 : 0);
    }

    auto families = now.Collect();
    auto more = lasting_->Collect();
    families.insert(families.end(), more.begin(), more.end());
    std::ostringstream out;
    prom::TextSerializer().Serialize(out, families);
    return out.str();
}

} // namespace dirsync::daemon
