// The throwaway CA and certificates made by scripts/make-test-certs.sh, once per test process.
#pragma once

#include "fake_workos.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace test {

inline std::string const& cert_dir()
{
    static std::string const dir = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "dirsync-certs-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        std::string const cmd = std::string("bash '") + DIRSYNC_MAKE_CERTS + "' '" + pattern + "'";
        if (std::system(cmd.c_str()) != 0)
            throw std::runtime_error("could not make test certificates: " + cmd);
        std::atexit([] { std::filesystem::remove_all(cert_dir()); });
        return pattern;
    }();
    return dir;
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
