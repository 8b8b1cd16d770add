// The throwaway CA and certificates made by scripts/make-test-certs.sh, once per test process.
#pragma once

#include "fake_workos.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace test {

// Made on first use, removed when the test process exits.
class CertDir {
public:
    CertDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "dirsync-certs-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
        std::string const cmd = std::string("bash '") + DIRSYNC_MAKE_CERTS + "' '" + path_ + "'";
        if (std::system(cmd.c_str()) != 0)
            throw std::runtime_error("could not make test certificates: " + cmd);
    }
    ~CertDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string const& path() const { return path_; }

private:
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
