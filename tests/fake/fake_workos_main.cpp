// fake-workos: the fake WorkOS API as a standalone server, for the demo and for manual tests.
#include "fake_workos.hpp"

#include <csignal>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

namespace {

int usage()
{
    std::cerr << "usage: fake-workos [--seed N] [--directories N] [--users N] [--groups N]\n"
                 "                   [--port N] [--tls-cert PEM --tls-key PEM] [--api-key KEY]\n"
                 "                   [--no-rate-limit] [--empty-embedded-groups] [--port-file F]\n";
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    fake::DatasetSpec spec;
    fake::FakeOptions options;
    std::optional<fake::TlsFiles> tls;
    std::string cert, key, port_file;
    unsigned short port = 0;
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
            else if (a == "--no-rate-limit")
                options.rate_limit = false;
            else if (a == "--empty-embedded-groups")
                options.empty_embedded_groups = true;
            else
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

    fake::FakeWorkos server(fake::Dataset::generate(spec), options, tls, port);
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
    std::cout << "fake-workos: stopping on signal " << sig << "; " << stats.total()
              << " requests served\n";
    for (auto const& [route, n] : stats.requests)
        std::cout << "  " << route << ": " << n << "\n";
    return 0;
}
