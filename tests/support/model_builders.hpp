// Small builders of model objects for store and sync tests. Their raw_json carries the fields,
// as the API's does: the mirror computes its columns from it.
#pragma once

#include "model/model.hpp"
#include "model/timestamp.hpp"

#include <fmt/format.h>

namespace test {

inline dirsync::Timestamp at(int second)
{
    auto text = fmt::format("2026-01-01T00:00:{:02}.000Z", second);
    return {text, *dirsync::parse_timestamp(text)};
}

inline dirsync::Directory directory(std::string id, std::string name = "Acme", int version = 0)
{
    dirsync::Directory d;
    d.id = std::move(id);
    d.organization_id = "org_1";
    d.name = name;
    d.type = "okta scim v2.0";
    d.state = "linked";
    d.created_at = at(0);
    d.updated_at = at(version);
    d.raw_json = fmt::format(R"({{"id":"{}","name":"{}","v":{}}})", d.id, name, version);
    return d;
}

inline dirsync::User user(std::string id, std::string dir, std::string first = "Ana",
                          int version = 1)
{
    dirsync::User u;
    u.id = std::move(id);
    u.directory_id = std::move(dir);
    u.organization_id = "org_1";
    u.email = first + "@example.com";
    u.first_name = first;
    u.state = "active";
    u.created_at = at(0);
    u.updated_at = at(version);
    u.raw_json = fmt::format(R"({{"id":"{}","directory_id":"{}","organization_id":"{}",)"
                             R"("email":"{}","first_name":"{}","state":"{}","created_at":"{}",)"
                             R"("updated_at":"{}"}})",
                             u.id, u.directory_id, *u.organization_id, *u.email, first, u.state,
                             u.created_at.text, u.updated_at.text);
    return u;
}

inline dirsync::Group group(std::string id, std::string dir, std::string name = "SRE",
                            int version = 1)
{
    dirsync::Group g;
    g.id = std::move(id);
    g.directory_id = std::move(dir);
    g.name = name;
    g.created_at = at(0);
    g.updated_at = at(version);
    g.raw_json = fmt::format(R"({{"id":"{}","directory_id":"{}","name":"{}","created_at":"{}",)"
                             R"("updated_at":"{}"}})",
                             g.id, g.directory_id, name, g.created_at.text, g.updated_at.text);
    return g;
}

} // namespace test
