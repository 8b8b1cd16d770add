#include "pg/conninfo.hpp"

#include <libpq-fe.h>
#include <memory>
#include <string_view>
#include <unistd.h>

namespace dirsync::pg {
namespace {

bool is_url(std::string const& s)
{
    return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

struct OptionsDeleter {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

Options parse(std::string const& s)
{
    char* error = nullptr;
    Options options(PQconninfoParse(s.c_str(), &error));
    PQfreemem(error);
    return options;
}

// The URL with the password of its userinfo (scheme://user:password@host) masked.
std::string redacted_url(std::string const& url)
{
    auto const authority = url.find("://") + 3;
    auto const end = url.find_first_of("/?", authority);
    auto const at = url.rfind('@', end == std::string::npos ? url.size() : end);
    std::string out = url;
    if (at != std::string::npos && at >= authority) {
        auto const colon = url.find(':', authority);
        if (colon != std::string::npos && colon < at)
            out = url.substr(0, colon + 1) + "***" + url.substr(at);
    }
    // The query may carry password=...: mask its value up to the next '&'.
    auto const query = out.find('?');
    for (auto p = query; p != std::string::npos; p = out.find('&', p + 1)) {
        std::string_view rest(out.data() + p + 1, out.size() - p - 1);
        if (rest.starts_with("password=")) {
            auto const value = p + 1 + 9;
            auto const stop = out.find('&', value);
            out.replace(value, (stop == std::string::npos ? out.size() : stop) - value, "***");
        }
    }
    return out;
}

// A conninfo value, quoted as libpq reads it back when it has spaces or quotes.
std::string quoted(std::string_view v)
{
    if (!v.empty() && v.find_first_of(" '\\") == std::string_view::npos)
        return std::string(v);
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "'";
}

} // namespace

bool is_postgres_target(std::string const& target)
{
    if (is_url(target))
        return true;
    // A file path has no key=value; libpq refuses one ("missing \"=\" after ...").
    return target.find('=') != std::string::npos && parse(target) != nullptr;
}

std::string redacted(std::string const& target)
{
    if (is_url(target))
        return redacted_url(target);
    auto options = parse(target);
    if (!options)
        return "(a connection string libpq cannot parse)";
    std::string out;
    for (auto const* o = options.get(); o->keyword; ++o) {
        if (!o->val)
            continue;
        if (!out.empty())
            out += ' ';
        out += o->keyword;
        out += '=';
        out += std::string_view(o->keyword) == "password" ? std::string("***") : quoted(o->val);
    }
    return out;
}

std::optional<std::string>
password_file_from_credentials(std::map<std::string, std::string> const& environment)
{
    if (auto it = environment.find("PGPASSFILE"); it != environment.end() && !it->second.empty())
        return std::nullopt;
    auto const dir = environment.find("CREDENTIALS_DIRECTORY");
    if (dir == environment.end() || dir->second.empty())
        return std::nullopt;
    auto path = dir->second + "/pgpass";
    if (::access(path.c_str(), R_OK) != 0)
        return std::nullopt;
    return path;
}

} // namespace dirsync::pg
