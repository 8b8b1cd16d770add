// The fake WorkOS server: FakeApi behind a Beast HTTP/HTTPS listener on 127.0.0.1, on threads of
// its own (one by default; more let TLS and HTTP of several connections run at once, so that a
// request is counted against the rate limits when it arrives, as the service counts it, and not
// after a queue of other connections' work). Tests change its data and switches through with(),
// under its lock.
#pragma once

#include "fake_api.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace fake {

struct TlsFiles {
    std::string certificate_chain;      // PEM
    std::string private_key;            // PEM
    bool legacy_protocols_only = false; // offer TLS 1.0 and 1.1 only (a server clients must refuse)
};

class FakeWorkos {
public:
    // Starts listening on 127.0.0.1 at `port` (0: any free port); HTTPS when `tls` is set.
    FakeWorkos(Dataset dataset, FakeOptions options, std::optional<TlsFiles> tls,
               unsigned short port = 0, int threads = 1);
    ~FakeWorkos();
    FakeWorkos(FakeWorkos const&) = delete;
    FakeWorkos& operator=(FakeWorkos const&) = delete;

    unsigned short port() const;
    // "https://localhost:PORT" (or http://127.0.0.1:PORT without TLS).
    std::string url() const;

    template <class F>
    auto with(F&& f)
    {
        std::lock_guard lock(mutex_);
        return f(api_);
    }

private:
    struct Server;
    std::mutex mutex_;
    FakeApi api_;
    std::unique_ptr<Server> server_;
};

} // namespace fake
