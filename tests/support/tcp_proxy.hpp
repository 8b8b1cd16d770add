// A TCP proxy in front of a server, for network-partition tests: cut() stops forwarding in both
// directions (what is sent waits unanswered, as behind a dropped link), heal() forwards again.
// A side whose peer closed is closed too. Header-only: one thread, poll(2).
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace test {

class TcpProxy {
public:
    explicit TcpProxy(int upstream_port)
        : upstream_port_(upstream_port)
    {
        // CLOEXEC everywhere: a daemon the test spawns must not inherit (and keep open) a side
        listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(0);
        if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listen_, 16) != 0)
            throw std::runtime_error("TcpProxy: cannot listen");
        socklen_t len = sizeof a;
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~TcpProxy()
    {
        done_ = true;
        thread_.join();
        for (auto [a, b] : pairs_) {
            ::close(a);
            ::close(b);
        }
        ::close(listen_);
    }
    TcpProxy(TcpProxy const&) = delete;
    TcpProxy& operator=(TcpProxy const&) = delete;

    int port() const { return port_; }
    void cut() { cut_ = true; }
    void heal() { cut_ = false; }

private:
    static sockaddr_in loopback(int port)
    {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return a;
    }

    void loop()
    {
        while (!done_) {
            std::vector<pollfd> fds;
            bool const cut = cut_;
            if (!cut) {
                fds.push_back({listen_, POLLIN, 0});
                for (auto [a, b] : pairs_) {
                    fds.push_back({a, POLLIN, 0});
                    fds.push_back({b, POLLIN, 0});
                }
            }
            ::poll(fds.data(), fds.size(), 50);
            if (cut || fds.empty())
                continue;
            bool const incoming = fds[0].revents & POLLIN;
            std::vector<std::pair<int, int>> kept;
            for (std::size_t i = 0; i < pairs_.size(); ++i) {
                auto [a, b] = pairs_[i];
                bool open = true;
                if (fds[1 + 2 * i].revents)
                    open = forward(a, b);
                if (open && fds[2 + 2 * i].revents)
                    open = forward(b, a);
                if (open)
                    kept.emplace_back(a, b);
                else {
                    ::close(a);
                    ::close(b);
                }
            }
            pairs_ = std::move(kept);
            if (incoming) // after the pairs: fds has no entry for a new one yet
                accept_one();
        }
    }

    void accept_one()
    {
        int const client = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0)
            return;
        int const server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(upstream_port_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(client);
            ::close(server);
            return;
        }
        pairs_.emplace_back(client, server);
    }

    static bool forward(int from, int to)
    {
        char buf[16384];
        auto const n = ::read(from, buf, sizeof buf);
        if (n <= 0)
            return false;
        for (ssize_t sent = 0; sent < n;) {
            auto const w = ::send(to, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
            if (w <= 0)
                return false;
            sent += w;
        }
        return true;
    }

    int upstream_port_;
    int listen_ = -1;
    int port_ = 0;
    std::atomic<bool> cut_{false}, done_{false};
    std::vector<std::pair<int, int>> pairs_;
    std::thread thread_;
};

} // namespace test
