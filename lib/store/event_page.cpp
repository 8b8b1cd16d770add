#include "store/event_page.hpp"

#include <fmt/format.h>

#include <set>

namespace dirsync::store {
namespace {

std::optional<std::string> organization_of(Event const& ev)
{
    if (auto const* u = std::get_if<User>(&ev.payload))
        return u->organization_id;
    if (auto const* g = std::get_if<Group>(&ev.payload))
        return g->organization_id;
    if (auto const* d = std::get_if<Directory>(&ev.payload))
        return d->organization_id;
    if (auto const* m = std::get_if<MembershipEvent>(&ev.payload))
        return m->group.organization_id ? m->group.organization_id : m->user.organization_id;
    return std::nullopt;
}

} // namespace

std::vector<RoutedItem> route_page(std::span<EventPage::Item const> items,
                                   ScopeFilter const& in_scope,
                                   std::function<Target(std::string const&)> const& target_of)
{
    std::vector<RoutedItem> routes(items.size());
    std::map<std::string, Target, std::less<>> targets; // a page is mostly one directory's
    auto const cached_target = [&](std::string const& directory_id) {
        auto it = targets.find(directory_id);
        if (it == targets.end())
            it = targets.emplace(directory_id, target_of(directory_id)).first;
        return it->second;
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto& [route, target] = routes[i];
        auto const* ev = std::get_if<Event>(&items[i]);
        if (ev == nullptr)
            route = Route::quarantine;
        else if (ev->kind == EventKind::unknown)
            route = Route::unknown_type;
        else if (!ev->directory_id || !in_scope(*ev->directory_id, organization_of(*ev)))
            route = Route::out_of_scope;
        else if (ev->kind == EventKind::directory_activated ||
                 ev->kind == EventKind::directory_deactivated)
            route = Route::sync_directory;
        else if ((target = cached_target(*ev->directory_id)) == Target::none)
            route = Route::not_mirrored;
        else
            route = Route::apply;
    }
    return routes;
}

WalkedPage walk_page(std::span<EventPage::Item const> items, std::span<RoutedItem const> routes,
                     PageWriter const& writer)
{
    WalkedPage page;
    auto& r = page.result;
    std::set<std::string, std::less<>> deleted;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (auto const* bad = std::get_if<RejectedEvent>(&items[i])) {
            writer.quarantine(*bad);
            ++r.quarantined;
            r.notes.push_back("quarantined: " + bad->reason);
            if (bad->id)
                r.cursor = bad->id;
            continue;
        }
        auto const& ev = std::get<Event>(items[i]);
        r.cursor = ev.id;
        page.cursor_created_at = ev.created_at.text;
        auto route = routes[i].route;
        if (route == Route::apply && deleted.contains(*ev.directory_id))
            route = Route::not_mirrored;
        switch (route) {
        case Route::unknown_type:
            ++r.unchanged;
            r.notes.push_back(fmt::format("skipped event {} of unknown type {}", ev.id, ev.type));
            break;
        case Route::out_of_scope:
            ++r.skipped;
            break;
        case Route::sync_directory:
            // The directories table holds the REST form: the caller re-reads it in a full sync.
            r.directories_to_sync.push_back(*ev.directory_id);
            ++r.applied;
            break;
        case Route::not_mirrored:
            if (ev.kind != EventKind::directory_deleted)
                r.directories_to_sync.push_back(*ev.directory_id);
            ++r.skipped;
            break;
        case Route::apply:
            writer.apply(ev, routes[i].target, r);
            if (!page.times.latest || ev.created_at.micros >= page.times.latest->micros)
                page.times.latest = ev.created_at;
            if (ev.kind == EventKind::directory_deleted) {
                deleted.insert(*ev.directory_id);
                page.times.per_directory.erase(*ev.directory_id);
            } else if (auto& at = page.times.per_directory[*ev.directory_id];
                       ev.created_at.micros >= at.micros) {
                at = ev.created_at;
            }
            break;
        case Route::quarantine: // a RejectedEvent, handled above
            break;
        }
    }
    return page;
}

} // namespace dirsync::store
