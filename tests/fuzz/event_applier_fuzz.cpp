// libFuzzer target: an event page of arbitrary bytes, applied to a small mirror. Whatever the
// events say, the mirror must stay consistent: no membership without its user and group.
#include "decode/events.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdlib>
#include <string_view>

namespace {

dirsync::Timestamp at(char const* text, std::int64_t micros)
{
    return {text, micros};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    using namespace dirsync;
    auto page =
        decode::parse_event_page(std::string_view(reinterpret_cast<char const*>(data), size));
    if (!page)
        return 0;
    auto db = store::open_database(":memory:");
    store::MirrorStore mirror(*db);
    store::EventStore events(*db);
    // A mirrored directory with one user in one group, as events expect to find.
    std::string const dir = "directory_01ECAZ4NV9QMV47GW873HDCX74";
    Directory d;
    d.id = dir;
    d.state = "linked";
    d.created_at = d.updated_at = at("2026-01-01T00:00:00Z", 1767225600000000);
    d.raw_json = "{}";
    User u;
    u.id = "directory_user_01E1JG7J09H96KYP8HM9B0G5SJ";
    u.directory_id = dir;
    u.state = "active";
    u.created_at = u.updated_at = d.created_at;
    u.raw_json = "{}";
    Group g;
    g.id = "directory_group_01E1JJS84MFPPQ3G655FHTKX6Z";
    g.directory_id = dir;
    g.name = "Developers";
    g.created_at = g.updated_at = d.created_at;
    g.raw_json = "{}";
    mirror.begin_staging(dir, d.created_at);
    mirror.stage_groups(dir, std::vector<Group>{g}, {}, {store::Phase::users, {}});
    u.embedded_group_ids = {g.id};
    mirror.stage_users(dir, std::vector<User>{u}, {}, store::MirrorStore::Embedded::stage,
                       {store::Phase::done, {}});
    mirror.merge_directory(d, {"per_group", 1}, "2026-01-01T00:00:00.000Z");

    store::ScopeFilter all = [](std::string const&, std::optional<std::string> const&) {
        return true;
    };
    events.apply_page(page->items, all, "2026-02-01T00:00:00.000Z");
    events.apply_page(page->items, all, "2026-02-01T00:00:01.000Z"); // twice: harmless
    auto const dangling =
        db->execAndGet("SELECT COUNT(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users "
                       "u WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE "
                       "g.id = m.group_id)")
            .getInt();
    if (dangling != 0)
        std::abort();
    return 0;
}
