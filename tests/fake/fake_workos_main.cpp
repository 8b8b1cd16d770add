// fake-workos: the fake WorkOS API as a standalone server, for the demo, the benchmarks and
// manual tests.
#include "bounds.hpp"
#include "fake_workos.hpp"

#include <boost/json.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

namespace {

int usage()
{
    std::cerr
        << "usage: fake-workos [--seed N] [--directories N] [--users N] [--groups N]\n"
           "                   [--max-groups-per-user N] [--skewed] [--port N]\n"
           "                   [--tls-cert PEM --tls-key PEM] [--api-key KEY]\n"
           "                   [--no-rate-limit] [--directory-rate N] [--global-rate N]\n"
           "                   [--empty-embedded-groups] [--events-order "
           "oldest-first|honor|newest-first]\n"
           "                   [--port-file F] [--bounds-file F] [--stats-file F] [--threads N]\n"
           "  --skewed        directory sizes fall off as 1/rank; a few groups hold most members\n"
           "  --bounds-file   writes the dataset's lower bounds on a complete mirror (JSON)\n"
           "  --stats-file    writes the requests served, at exit (JSON)\n"
           "  --threads       threads serving connections (default 2)\n";
    return 2;
}

void write_json(std::string const& path, boost::json::value const& v)
{
    std::ofstream(path + ".tmp") << boost::json::serialize(v) << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
}

boost::json::object bounds_json(fake::Dataset const& ds, fake::Rates rates)
{
    auto const b = fake::compute_bounds(ds, rates);
    boost::json::array dirs;
    for (std::size_t i = 0; i < b.directories.size(); ++i) {
        auto const& d = b.directories[i];
        dirs.push_back({{"id", d.id},
                        {"users", d.users},
                        {"groups", d.groups},
                        {"memberships", d.memberships},
                        {"per_group_requests", d.per_group_requests},
                        {"per_user_requests", d.per_user_requests},
                        {"best_mix", b.best_mix_per_user[i] ? "per_user" : "per_group"}});
    }
    return {{"users", ds.users().size()},
            {"groups", ds.groups().size()},
            {"memberships", ds.membership_count()},
            {"directories", std::move(dirs)},
            {"all_per_group_seconds", b.all_per_group_seconds},
            {"all_per_user_seconds", b.all_per_user_seconds},
            {"best_mix_seconds", b.best_mix_seconds}};
}

boost::json::object stats_json(fake::FakeStats const& s, fake::Rates rates)
{
    boost::json::object routes, by_dir;
    for (auto const& [route, n] : s.requests)
        routes[route] = n;
    for (auto const& [dir, n] : s.directory_users_by_directory)
        by_dir[dir] = n;
    return {{"total", s.total()},
            {"throttled", s.throttled},
            {"early_retries", s.early_retries},
            {"requests", std::move(routes)},
            {"directory_users_by_directory", std::move(by_dir)},
            {"bound_of_requests_seconds",
             fake::bound_of_requests(s.directory_users_by_directory, s.total(), rates)}};
}

} // namespace

int main(int argc, char** argv)
{
    fake::DatasetSpec spec;
    fake::FakeOptions options;
    std::optional<fake::TlsFiles> tls;
    std::string cert, key, port_file, bounds_file, stats_file;
    unsigned short port = 0;
    int threads = 2;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string const a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc)
                    throw std::invalid_argument(a + " needs a value");
                return argv[++i];
            };
            if (a == "--seed")
                spec.seed = std::stoull(value());
            else if (a == "--directories")
                spec.directories = std::stoi(value());
            else if (a == "--users")
                spec.users = std::stoi(value());
            else if (a == "--groups")
                spec.groups = std::stoi(value());
            else if (a == "--max-groups-per-user")
                spec.max_groups_per_user = std::stoi(value());
            else if (a == "--skewed")
                spec.skewed = true;
            else if (a == "--port")
                port = static_cast<unsigned short>(std::stoi(value()));
            else if (a == "--tls-cert")
                cert = value();
            else if (a == "--tls-key")
                key = value();
            else if (a == "--api-key")
                options.api_key = value();
            else if (a == "--port-file")
                port_file = value();
            else if (a == "--bounds-file")
                bounds_file = value();
            else if (a == "--stats-file")
                stats_file = value();
            else if (a == "--no-rate-limit")
                options.rate_limit = false;
            else if (a == "--directory-rate")
                options.directory_users_per_second = std::stoi(value());
            else if (a == "--global-rate")
                options.global_per_second = std::stoi(value());
            else if (a == "--threads")
                threads = std::stoi(value());
            else if (a == "--empty-embedded-groups")
                options.empty_embedded_groups = true;
            else if (a == "--events-order") {
                auto const v = value();
                using Order = fake::FakeOptions::EventsOrder;
                if (v != "oldest-first" && v != "honor" && v != "newest-first")
                    return usage();
                options.events_order = v == "honor"          ? Order::honor
                                       : v == "newest-first" ? Order::newest_first
                                                             : Order::oldest_first;
            } else
                return usage();
        }
    } catch (std::exception const& e) {
        std::cerr << "fake-workos: " << e.what() << "\n";
        return usage();
    }
    if (cert.empty() != key.empty())
        return usage();
    if (!cert.empty())
        tls = fake::TlsFiles{cert, key};

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr); // the server thread inherits the mask

    fake::Rates const rates{static_cast<double>(options.global_per_second),
                            static_cast<double>(options.directory_users_per_second)};
    auto dataset = fake::Dataset::generate(spec);
    if (!bounds_file.empty())
        write_json(bounds_file, bounds_json(dataset, rates));
    fake::FakeWorkos server(std::move(dataset), options, tls, port, threads);
    std::cout << "fake-workos listening on " << server.url() << " (" << spec.directories
              << " directories, " << spec.users << " users, " << spec.groups << " groups)"
              << std::endl;
    if (!port_file.empty()) {
        std::ofstream(port_file + ".tmp") << server.port() << "\n";
        std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    }
    int sig = 0;
    sigwait(&set, &sig);
    auto const stats = server.with([](fake::FakeApi& api) { return api.stats(); });
    if (!stats_file.empty())
        write_json(stats_file, stats_json(stats, rates));
    std::cout << "fake-workos: stopping on signal " << sig << "; " << stats.total()
              << " requests served\n";
    for (auto const& [route, n] : stats.requests)
        std::cout << "  " << route << ": " << n << "\n";
    return 0;
}
