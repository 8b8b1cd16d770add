#include "dry_run.hpp"

#include "exit_codes.hpp"
#include "run_once.hpp"
#include "store/database.hpp"
#include "store/mirror_store.hpp"
#include "sync/full_sync.hpp"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

namespace dirsync::daemon {
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t shown = 20; // ids listed per kind of change

// A private scratch directory under $TMPDIR, removed with everything in it.
class Scratch {
public:
    Scratch()
    {
        auto pattern = (fs::temp_directory_path() / "dirsyncd-dry-run-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error(fmt::format("cannot make a scratch directory {}: {}", pattern,
                                                 std::strerror(errno)));
        path_ = pattern;
    }
    ~Scratch()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(char const* name) const { return (path_ / name).string(); }
    std::string dir() const { return path_.string(); }

private:
    fs::path path_;
};

struct Item {
    std::string id, label; // label: e-mail, name, or "user in group"
};
struct Kind {
    std::int64_t count = 0;
    std::vector<Item> first;
    void add(Item item)
    {
        if (first.size() < shown)
            first.push_back(std::move(item));
        ++count;
    }
};
struct EntityChanges {
    Kind add, update, remove;
};
struct DirectoryPreview {
    std::string id;
    std::optional<std::string> name, held, failed;
    bool removed = false; // gone upstream or out of scope: everything goes
    std::map<std::string, EntityChanges> entities{{"user", {}}, {"group", {}}, {"membership", {}}};
};

// Reads by id from one database (`db` may be null: no mirror yet), each statement prepared once:
// a first sync of a large directory has a changes row per object.
class Lookup {
public:
    explicit Lookup(SQLite::Database* db)
        : db_(db)
    {
    }
    // One column of one row, or "".
    std::string text(char const* sql, std::string const& id)
    {
        auto* q = statement(sql);
        if (!q)
            return "";
        q->reset();
        q->bind(1, id);
        return q->executeStep() && !q->getColumn(0).isNull() ? q->getColumn(0).getString() : "";
    }
    bool exists(char const* sql, std::string const& id)
    {
        auto* q = statement(sql);
        if (!q)
            return false;
        q->reset();
        q->bind(1, id);
        return q->executeStep();
    }

private:
    SQLite::Statement* statement(char const* sql)
    {
        if (!db_)
            return nullptr;
        auto it = statements_.find(sql);
        if (it == statements_.end())
            it = statements_.emplace(sql, std::make_unique<SQLite::Statement>(*db_, sql)).first;
        return it->second.get();
    }
    SQLite::Database* db_;
    std::map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

constexpr char const* user_email = "SELECT email FROM users WHERE id = ?";
constexpr char const* group_name = "SELECT name FROM groups WHERE id = ?";
constexpr char const* directory_name = "SELECT name FROM directories WHERE id = ?";

// What the sync changed in the copy since `since_seq`, per directory; added or updated is told
// by whether the mirror has the row; labels (for the ids shown only) from the copy, or from the
// mirror for what is deleted.
void collect(SQLite::Database& copy, Lookup& after, Lookup& before, std::int64_t since_seq,
             std::map<std::string, DirectoryPreview>& out)
{
    auto label = [&](std::string const& entity, std::string const& id, bool deleted) {
        auto& db = deleted ? before : after;
        if (entity == "user")
            return db.text(user_email, id);
        if (entity == "group")
            return db.text(group_name, id);
        auto const colon = id.find(':');
        if (colon == std::string::npos)
            return std::string();
        auto const user = db.text(user_email, id.substr(0, colon));
        auto const group = db.text(group_name, id.substr(colon + 1));
        return user.empty() && group.empty() ? std::string() : fmt::format("{} in {}", user, group);
    };
    SQLite::Statement q(copy, "SELECT directory_id, entity, entity_id, op FROM changes WHERE seq "
                              "> ? ORDER BY seq");
    q.bind(1, since_seq);
    while (q.executeStep()) {
        auto const dir = q.getColumn(0).getString();
        auto const entity = q.getColumn(1).getString();
        auto const id = q.getColumn(2).getString();
        bool const deleted = q.getColumn(3).getString() == "delete";
        auto& preview = out[dir];
        preview.id = dir;
        auto it = preview.entities.find(entity);
        if (it == preview.entities.end())
            continue; // the directory row itself: its name is shown, not counted
        auto& e = it->second;
        bool const updated = !deleted && (entity == "user"    ? before.exists(user_email, id)
                                          : entity == "group" ? before.exists(group_name, id)
                                                              : false);
        auto& kind = deleted ? e.remove : updated ? e.update : e.add;
        kind.add({id, kind.first.size() < shown ? label(entity, id, deleted) : ""});
    }
}

json::object to_json(DirectoryPreview const& p)
{
    json::object o{{"id", p.id}};
    o["name"] = p.name ? json::value(*p.name) : json::value(nullptr);
    o["held"] = p.held ? json::value(*p.held) : json::value(nullptr);
    o["failed"] = p.failed ? json::value(*p.failed) : json::value(nullptr);
    o["removed"] = p.removed;
    for (auto const& [entity, e] : p.entities) {
        auto kind = [&](Kind const& k, bool updates) {
            json::array first;
            for (auto const& i : k.first) {
                json::object item{{"id", i.id}};
                if (entity == "user")
                    item["email"] = i.label;
                else if (entity == "group")
                    item["name"] = i.label;
                else
                    item["label"] = i.label;
                first.push_back(std::move(item));
            }
            (void)updates;
            return json::object{{"count", k.count}, {"first", std::move(first)}};
        };
        json::object changes{{"add", kind(e.add, false)}, {"delete", kind(e.remove, false)}};
        if (entity != "membership")
            changes["update"] = kind(e.update, true);
        o[entity == "user"    ? "users"
          : entity == "group" ? "groups"
                              : "memberships"] = std::move(changes);
    }
    return o;
}

void print_text(std::ostream& out, std::string const& database,
                std::map<std::string, DirectoryPreview> const& previews)
{
    out << fmt::format("dry run against {}: nothing was written; {} directories\n", database,
                       previews.size());
    for (auto const& [id, p] : previews) {
        auto const& u = p.entities.at("user");
        auto const& g = p.entities.at("group");
        auto const& m = p.entities.at("membership");
        out << fmt::format("directory {} ({}):", id, p.name.value_or("unnamed"));
        if (p.failed) {
            out << fmt::format(" could not be listed: {}\n", *p.failed);
            continue;
        }
        out << fmt::format(" users +{} ~{} -{}, groups +{} ~{} -{}, memberships +{} -{}{}\n",
                           u.add.count, u.update.count, u.remove.count, g.add.count, g.update.count,
                           g.remove.count, m.add.count, m.remove.count,
                           p.removed ? " (gone upstream or out of scope: removed)" : "");
        if (p.held)
            out << fmt::format("  HELD: a real sync would be held, nothing applied: {}; "
                               "`dirsyncd allow-deletions {}` would apply it\n",
                               *p.held, id);
        for (char const* entity : {"user", "group", "membership"}) {
            auto const& e = p.entities.at(entity);
            for (auto const& [sign, verb, kind] :
                 {std::tuple{'+', "add", &e.add}, std::tuple{'~', "update", &e.update},
                  std::tuple{'-', "delete", &e.remove}}) {
                for (auto const& i : kind->first)
                    out << fmt::format("  {} {} {}{}{}\n", sign, entity, i.id,
                                       i.label.empty() ? "" : " ", i.label);
                if (kind->count > static_cast<std::int64_t>(kind->first.size()))
                    out << fmt::format("  ... and {} more {}s to {}\n",
                                       kind->count - static_cast<std::int64_t>(kind->first.size()),
                                       entity, verb);
            }
        }
    }
}

} // namespace

int run_dry_run(asio::io_context& ioc, api::ApiClient& api, spdlog::logger& log,
                settings::Settings const& settings, std::vector<std::string> const& directories,
                bool as_json)
{
    Scratch scratch;
    auto const copy_path = scratch.file("mirror.db");
    std::unique_ptr<SQLite::Database> mirror;
    std::unique_ptr<store::Database> copy;
    try {
        if (fs::exists(settings.database)) {
            mirror = std::make_unique<SQLite::Database>(settings.database, SQLite::OPEN_READONLY);
            log.info("dry run: copying the mirror {} ({:.1f} MiB) to {} (an online backup: the "
                     "mirror is only read)",
                     settings.database,
                     static_cast<double>(fs::file_size(settings.database)) / (1 << 20),
                     scratch.dir());
            SQLite::Database target(copy_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            SQLite::Backup backup(target, *mirror);
            backup.executeStep();
        } else {
            log.info("dry run: {} does not exist yet: everything listed would be added",
                     settings.database);
        }
        copy = store::open_database(copy_path, {});
    } catch (SQLite::Exception const& e) {
        std::cerr << "dirsyncd: dry run: cannot read " << settings.database << ": "
                  << store::describe_database_error(e) << std::endl;
        return exit_database;
    } catch (std::exception const& e) {
        std::cerr << "dirsyncd: dry run: " << e.what() << std::endl;
        return exit_database;
    }
    auto const since = copy->execAndGet("SELECT COALESCE(MAX(seq), 0) FROM changes").getInt64();

    store::MirrorStore store(*copy);
    sync::SyncServices svc{api, store, log};
    auto options = settings.sync;
    options.directory.merge_held = true;
    options.directory.allow_deletions.clear();

    auto job = directories.empty()
                   ? sync::run_full_sync(svc, options)
                   : sync::run_directory_syncs(svc, options, directories, sync::Named::by_operator);
    auto [report, error] = run_until_done(ioc, std::move(job), log);
    if (error) {
        auto const o = outcome_of(report, error, settings.api_url);
        std::cerr << "dirsyncd: dry run: " << o.message << std::endl;
        return o.code;
    }

    std::map<std::string, DirectoryPreview> previews;
    for (auto const& id : report.synced)
        previews[id].id = id;
    for (auto const& id : report.removed)
        previews[id].removed = true;
    Lookup after(copy.get()), before(mirror.get());
    collect(*copy, after, before, since, previews);
    for (auto const& [id, why] : report.would_hold)
        previews[id].held = why;
    for (auto const& f : report.failures)
        previews[f.directory_id].failed = f.message;
    for (auto& [id, p] : previews) {
        p.id = id;
        auto name = after.text(directory_name, id);
        if (name.empty())
            name = before.text(directory_name, id);
        if (!name.empty())
            p.name = name;
    }

    if (as_json) {
        json::array dirs;
        for (auto const& [id, p] : previews)
            dirs.push_back(to_json(p));
        std::cout << json::serialize(json::object{{"dry_run", true},
                                                  {"database", settings.database},
                                                  {"directories", std::move(dirs)}})
                  << std::endl;
    } else {
        print_text(std::cout, settings.database, previews);
    }
    return report.failures.empty() ? exit_ok : exit_sync_failed;
}

} // namespace dirsync::daemon
