// The throwaway CA and certificates made by scripts/make-test-certs.sh, once per test process.
#pragma once

#include "fake_workos.hpp"
#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace test {

// Made on first use, removed (with the TempDir) when the test process exits.
class CertDir {
public:
    CertDir()
    {
        std::string const cmd =
            std::string("bash '") + DIRSYNC_MAKE_CERTS + "' '" + dir_.path().string() + "'";
        if (std::system(cmd.c_str()) != 0)
            throw std::runtime_error("could not make test certificates: " + cmd);
        path_ = dir_.path().string();
    }
    std::string const& path() const { return path_; }

private:
    TempDir dir_;
    std::string path_;
};

inline std::string const& cert_dir()
{
    static CertDir const dir;
    return dir.path();
}

inline std::string cert(std::string const& name)
{
    return cert_dir() + "/" + name;
}

// A certificate/key pair by base name: "server", "other-host", "expired", "untrusted".
inline fake::TlsFiles tls(std::string const& name = "server")
{
    return {cert(name + ".pem"), cert(name + ".key")};
}

} // namespace test
