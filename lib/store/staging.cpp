// MirrorStore: staging of a full sync, in the staging file. Each page of a listing is compared
// with the mirror in one range query (a merge of two id-ordered lists): what is new or changed
// is staged, mirrored rows the listing passed over are marked for deletion, and the position of
// the next page is saved in the same transaction.
#include "store/merge_sql.hpp"
#include "store/mirror_store.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>

namespace dirsync::store {
using namespace sql;

namespace {

std::string new_run_id()
{
    static std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:016x}", rng());
}

// The statements that compare one entity type's listing with the mirror and stage it.
struct EntitySql {
    SQLite::Statement live_range; // id, raw_json of the directory's rows in (:lo, :hi]
    SQLite::Statement live_tail;  // ... in (:lo, end)
    SQLite::Statement live_one;   // raw_json of one row
    SQLite::Statement stage;      // upsert into staging; a staged copy newer than the page's wins
    SQLite::Statement pend;       // a mirrored row the listing passed over
    SQLite::Statement unpend;     // ... that turned up after all (a page out of order)

    EntitySql(SQLite::Database& db, EntityTable const& t)
        : live_range(db, fmt::format("SELECT id, raw_json FROM {} WHERE directory_id = :dir AND "
                                     "id > :lo AND id <= :hi ORDER BY id",
                                     t.live))
        , live_tail(db, fmt::format("SELECT id, raw_json FROM {} WHERE directory_id = :dir AND "
                                    "id > :lo ORDER BY id",
                                    t.live))
        , live_one(db, fmt::format("SELECT raw_json FROM {} WHERE id = :id", t.live))
        , stage(db,
                upsert(fmt::format("staging.{}", t.staged).c_str(), t.columns, values(t.columns),
                       fmt::format("excluded.updated_at_us >= {}.updated_at_us", t.staged)))
        , pend(db, fmt::format("INSERT OR IGNORE INTO staging.pending_deletes (directory_id, "
                               "entity, id) VALUES (:dir, '{}', :id)",
                               t.entity))
        , unpend(db, fmt::format("DELETE FROM staging.pending_deletes WHERE entity = '{}' AND "
                                 "id = :id",
                                 t.entity))
    {
    }
};

// The statements of the membership difference: the mirror's memberships of one owner, and the
// staged additions and removals.
struct MemberSql {
    SQLite::Statement range, tail; // the owner's member ids (per_group) or group ids (per_user)
    MemberSql(SQLite::Database& db, char const* owner_column, char const* member_column)
        : range(db, fmt::format("SELECT {1} FROM memberships WHERE {0} = :owner AND {1} > :lo "
                                "AND {1} <= :hi ORDER BY {1}",
                                owner_column, member_column))
        , tail(db, fmt::format("SELECT {1} FROM memberships WHERE {0} = :owner AND {1} > :lo "
                               "ORDER BY {1}",
                               owner_column, member_column))
    {
    }
};

// One id of a listing page and its record (null: an undecodable record kept as stored).
template <class T>
struct Listed {
    std::string const* id;
    T const* record;
};

template <class T>
std::vector<Listed<T>> in_id_order(std::span<T const> records, std::span<std::string const> kept)
{
    std::vector<Listed<T>> out;
    for (auto const& r : records)
        out.push_back({&r.id, &r});
    for (auto const& id : kept)
        out.push_back({&id, nullptr});
    std::stable_sort(out.begin(), out.end(),
                     [](auto const& a, auto const& b) { return *a.id < *b.id; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](auto const& a, auto const& b) { return *a.id == *b.id; }),
              out.end());
    return out;
}

} // namespace

// Prepared once: a page runs a few statements per record.
struct MirrorStore::Statements {
    EntitySql users, groups;
    MemberSql members_of_group, groups_of_user;
    SQLite::Statement live_pair, diff_add, diff_delete, diff_drop;
    SQLite::Statement save_listing, owner_high, save_owner, add_owner;

    explicit Statements(SQLite::Database& db)
        : users(db, users_table)
        , groups(db, groups_table)
        , members_of_group(db, "group_id", "user_id")
        , groups_of_user(db, "user_id", "group_id")
        , live_pair(db, "SELECT 1 FROM memberships WHERE user_id = :user AND group_id = :group")
        , diff_add(db, "INSERT INTO staging.membership_diff (directory_id, group_id, user_id, op) "
                       "VALUES (:dir, :group, :user, 'add') ON CONFLICT DO UPDATE SET op = 'add'")
        , diff_delete(db, "INSERT INTO staging.membership_diff (directory_id, group_id, user_id, "
                          "op) VALUES (:dir, :group, :user, 'delete') ON CONFLICT DO UPDATE SET "
                          "op = 'delete'")
        , diff_drop(db, "DELETE FROM staging.membership_diff WHERE directory_id = :dir AND "
                        "group_id = :group AND user_id = :user")
        , save_listing(db, "UPDATE staging.runs SET phase = :phase, cursor = :cursor, high_id = "
                           ":high, listed_groups = listed_groups + :groups, listed_users = "
                           "listed_users + :users WHERE directory_id = :dir")
        , owner_high(db, "SELECT high_id FROM staging.owners WHERE directory_id = :dir AND id = "
                         ":owner")
        , save_owner(db, "UPDATE staging.owners SET cursor = :cursor, high_id = :high, done = "
                         ":done WHERE directory_id = :dir AND id = :owner")
        , add_owner(db, "INSERT OR IGNORE INTO staging.owners (directory_id, id) VALUES (:dir, "
                        ":owner)")
    {
    }

    // Member pages that staged nothing keep their owner's position here, and it is saved with
    // the next page that stages something, once `unsaved_limit` owners wait, or when the phase
    // ends: a sync that finds nothing new commits every 64 pages rather than every page (its
    // WAL). A crash loses only these positions: the next run lists those pages again from the
    // saved one, where nothing had been staged.
    struct UnsavedOwner {
        std::optional<std::string> cursor;
        std::string high;
        bool done = false;
    };
    static constexpr std::size_t unsaved_limit = 64;
    std::map<std::pair<std::string, std::string>, UnsavedOwner> unsaved; // (directory, owner)

    void save_owner_row(std::string const& dir, std::string const& owner, UnsavedOwner const& o)
    {
        auto& s = save_owner;
        rearm(s);
        s.bind(":dir", dir);
        s.bind(":owner", owner);
        bind_opt(s, ":cursor", o.cursor);
        s.bind(":high", o.high);
        s.bind(":done", o.done ? 1 : 0);
        s.exec();
    }
    // Inside the caller's transaction: the waiting positions of one directory, or of all.
    void save_unsaved(std::string const* dir = nullptr)
    {
        for (auto it = unsaved.begin(); it != unsaved.end();) {
            if (dir && it->first.first != *dir) {
                ++it;
                continue;
            }
            save_owner_row(it->first.first, it->first.second, it->second);
            it = unsaved.erase(it);
        }
    }
    void forget_unsaved(std::string const& dir)
    {
        std::erase_if(unsaved, [&](auto const& e) { return e.first.first == dir; });
        unsaved_listing.erase(dir);
    }
    UnsavedOwner const* unsaved_of(std::string const& dir, std::string const& owner) const
    {
        auto it = unsaved.find({dir, owner});
        return it == unsaved.end() ? nullptr : &it->second;
    }

    // Saves the listing's next page and the highest id compared so far (none once the listing
    // ended), counting what the page listed.
    struct ListedCounts {
        std::int64_t groups = 0, users = 0;
    };
    // The same for the groups and users listings: a page that staged nothing keeps the
    // listing's position here (its counts added up), saved with the next page that stages
    // something, after `unsaved_limit` pages, or with the listing's last page.
    struct UnsavedListing {
        Progress next;
        std::optional<std::string> high;
        ListedCounts listed;
        std::size_t pages = 0;
    };
    std::map<std::string, UnsavedListing> unsaved_listing; // by directory

    void note_position(std::string const& dir, Progress const& next,
                       std::optional<std::string> high, ListedCounts listed, bool save)
    {
        auto& u = unsaved_listing[dir];
        u.next = next;
        u.high = std::move(high);
        u.listed.groups += listed.groups;
        u.listed.users += listed.users;
        if (!save && ++u.pages < unsaved_limit)
            return;
        save_position(dir, u.next, u.high ? &*u.high : nullptr, u.listed);
        unsaved_listing.erase(dir);
    }
    // The largest id the listing compared so far: the unsaved position's, else the saved one.
    std::string listing_high(SQLite::Database& db, std::string const& dir)
    {
        if (auto it = unsaved_listing.find(dir); it != unsaved_listing.end())
            return it->second.high.value_or("");
        SQLite::Statement q(db, "SELECT COALESCE(high_id, '') FROM staging.runs WHERE "
                                "directory_id = :dir");
        q.bind(":dir", dir);
        if (!q.executeStep())
            throw std::logic_error("no staging run for directory " + dir);
        return q.getColumn(0).getString();
    }
    void save_position(std::string const& dir, Progress const& next, std::string const* high,
                       ListedCounts listed)
    {
        auto& s = save_listing;
        rearm(s);
        s.bind(":dir", dir);
        s.bind(":phase", phase_name(next.phase));
        bind_opt(s, ":cursor", next.cursor);
        if (high)
            s.bind(":high", *high);
        else
            s.bind(":high");
        s.bind(":groups", listed.groups);
        s.bind(":users", listed.users);
        s.exec();
    }

    // The mirror's copy of one row (its raw_json), when it has one.
    static std::optional<std::string> live_copy(EntitySql& s, std::string const& id)
    {
        rearm(s.live_one);
        s.live_one.bind(":id", id);
        std::optional<std::string> raw;
        if (s.live_one.executeStep())
            raw = s.live_one.getColumn(0).getString();
        s.live_one.reset();
        return raw;
    }

    template <class T>
    void stage(EntitySql& s, T const& record)
    {
        rearm(s.stage);
        bind_entity(s.stage, record);
        s.stage.exec();
    }

    void mark(SQLite::Statement& st, std::string const& dir, std::string const& id)
    {
        rearm(st);
        if (st.getIndex(":dir") > 0)
            st.bind(":dir", dir);
        st.bind(":id", id);
        st.exec();
    }

    // Compares a page of the listing with the mirror's rows of the directory and stages what
    // differs. `lo` is the largest id compared so far; `last` ends the listing (the rows above
    // every listed id are gone). Returns the new `lo`.
    template <class T>
    std::string compare(EntitySql& s, std::string const& dir, std::vector<Listed<T>> const& page,
                        std::string const& lo, bool last)
    {
        auto stage_if_new = [&](Listed<T> const& l, std::optional<std::string> const& live) {
            if (l.record && (!live || *live != l.record->raw_json))
                stage(s, *l.record);
        };
        // Ids at or below `lo` come out of order (or again): one at a time.
        auto above = std::partition_point(page.begin(), page.end(),
                                          [&](auto const& l) { return *l.id <= lo; });
        for (auto it = page.begin(); it != above; ++it) {
            auto const live = live_copy(s, *it->id);
            if (live)
                mark(s.unpend, dir, *it->id);
            stage_if_new(*it, live);
        }
        if (above == page.end() && !last)
            return lo;
        auto& q = last ? s.live_tail : s.live_range;
        rearm(q);
        q.bind(":dir", dir);
        q.bind(":lo", lo);
        if (!last)
            q.bind(":hi", *page.back().id);
        auto next = above;
        while (q.executeStep()) {
            std::string const id = q.getColumn(0).getString();
            for (; next != page.end() && *next->id < id; ++next)
                stage_if_new(*next, std::nullopt);
            if (next != page.end() && *next->id == id) {
                stage_if_new(*next, q.getColumn(1).getString());
                ++next;
            } else {
                mark(s.pend, dir, id);
            }
        }
        q.reset();
        for (; next != page.end(); ++next)
            stage_if_new(*next, std::nullopt);
        return page.empty() ? lo : std::max(lo, *page.back().id);
    }

    void diff(SQLite::Statement& st, std::string const& dir, MembershipPair const& p)
    {
        rearm(st);
        if (st.getIndex(":dir") > 0)
            st.bind(":dir", dir);
        st.bind(":user", p.user_id);
        st.bind(":group", p.group_id);
        st.exec();
    }

    // The same comparison for one owner's memberships: ids listed and not mirrored are added,
    // mirrored and passed over removed. Returns the new `lo`.
    std::string compare_members(std::string const& dir, MembershipSource strategy,
                                std::string const& owner, std::vector<std::string> ids,
                                std::string const& lo, bool last)
    {
        bool const per_group = strategy == MembershipSource::per_group;
        auto pair = [&](std::string const& id) {
            return per_group ? MembershipPair{id, owner} : MembershipPair{owner, id};
        };
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        auto above = std::upper_bound(ids.begin(), ids.end(), lo);
        for (auto it = ids.begin(); it != above; ++it) {
            auto const p = pair(*it);
            rearm(live_pair);
            live_pair.bind(":user", p.user_id);
            live_pair.bind(":group", p.group_id);
            bool const mirrored = live_pair.executeStep();
            live_pair.reset();
            diff(mirrored ? diff_drop : diff_add, dir, p);
        }
        if (above == ids.end() && !last)
            return lo;
        auto& sql = per_group ? members_of_group : groups_of_user;
        auto& q = last ? sql.tail : sql.range;
        rearm(q);
        q.bind(":owner", owner);
        q.bind(":lo", lo);
        if (!last)
            q.bind(":hi", ids.back());
        auto next = above;
        while (q.executeStep()) {
            std::string const id = q.getColumn(0).getString();
            for (; next != ids.end() && *next < id; ++next)
                diff(diff_add, dir, pair(*next));
            if (next != ids.end() && *next == id)
                ++next;
            else
                diff(diff_delete, dir, pair(id));
        }
        q.reset();
        for (; next != ids.end(); ++next)
            diff(diff_add, dir, pair(*next));
        return ids.empty() ? lo : std::max(lo, ids.back());
    }
};

MirrorStore::MirrorStore(SQLite::Database& db)
    : db_(db)
    , st_(std::make_unique<Statements>(db))
{
}

MirrorStore::~MirrorStore() = default;

std::optional<StagingRun> MirrorStore::load_staging(std::string const& directory_id)
{
    st_->forget_unsaved(directory_id); // a new attempt resumes from what was saved
    SQLite::Statement q(db_, "SELECT r.run_id, r.started_at, r.started_at_us, r.phase, r.cursor, "
                             "r.strategy, r.listed_groups, r.listed_users FROM staging.runs r "
                             "JOIN full_sync_runs m ON m.directory_id = r.directory_id AND "
                             "m.run_id = r.run_id WHERE r.directory_id = :dir");
    q.bind(":dir", directory_id);
    if (!q.executeStep()) {
        q.reset();
        SQLite::Statement any(db_, "SELECT (SELECT COUNT(*) FROM staging.runs WHERE directory_id "
                                   "= :dir) + (SELECT COUNT(*) FROM full_sync_runs WHERE "
                                   "directory_id = :dir)");
        any.bind(":dir", directory_id);
        any.executeStep();
        if (any.getColumn(0).getInt() > 0) // half-made (a crash between the two files) or stale
            discard_staging(directory_id);
        return std::nullopt;
    }
    StagingRun run;
    run.run_id = q.getColumn(0).getString();
    run.started_at = {q.getColumn(1).getString(), q.getColumn(2).getInt64()};
    run.progress = {phase_from_name(q.getColumn(3).getString()), optional_text(q, 4)};
    run.strategy = optional_text(q, 5);
    run.listed_groups = q.getColumn(6).getInt64();
    run.listed_users = q.getColumn(7).getInt64();
    return run;
}

void MirrorStore::begin_staging(std::string const& directory_id, Timestamp const& started_at)
{
    auto const run_id = new_run_id();
    st_->forget_unsaved(directory_id);
    sql::WriteTransaction tx(db_);
    clear_staging(db_, directory_id);
    for (char const* insert :
         {"INSERT INTO full_sync_runs (directory_id, run_id, started_at) VALUES (:dir, :run, :at)",
          "INSERT INTO staging.runs (directory_id, run_id, started_at, started_at_us, phase) "
          "VALUES (:dir, :run, :at, :us, 'groups')"}) {
        SQLite::Statement ins(db_, insert);
        ins.bind(":dir", directory_id);
        ins.bind(":run", run_id);
        ins.bind(":at", started_at.text);
        if (ins.getIndex(":us") > 0)
            ins.bind(":us", started_at.micros);
        ins.exec();
    }
    tx.commit();
}

void MirrorStore::discard_staging(std::string const& directory_id)
{
    st_->forget_unsaved(directory_id);
    sql::WriteTransaction tx(db_);
    clear_staging(db_, directory_id);
    tx.commit();
}

void MirrorStore::stage_groups(std::string const& directory_id, std::span<Group const> groups,
                               std::span<std::string const> kept_ids, Progress const& next)
{
    sql::WriteTransaction tx(db_);
    auto const page = in_id_order(groups, kept_ids);
    bool const last = next.phase != Phase::groups;
    auto const changes_before = db_.getTotalChanges();
    auto const high =
        st_->compare(st_->groups, directory_id, page, st_->listing_high(db_, directory_id), last);
    bool const staged = db_.getTotalChanges() != changes_before;
    st_->note_position(directory_id, next, last ? std::nullopt : std::optional(high),
                       {static_cast<std::int64_t>(page.size()), 0}, staged || last);
    tx.commit();
}

void MirrorStore::stage_users(std::string const& directory_id, std::span<User const> users,
                              std::span<std::string const> kept_ids, Embedded embedded,
                              Progress const& next, Owners owners)
{
    sql::WriteTransaction tx(db_);
    auto const page = in_id_order(users, kept_ids);
    bool const last = next.phase != Phase::users;
    auto const changes_before = db_.getTotalChanges();
    auto const high =
        st_->compare(st_->users, directory_id, page, st_->listing_high(db_, directory_id), last);
    if (embedded == Embedded::stage)
        for (auto const& u : users)
            st_->compare_members(directory_id, MembershipSource::per_user, u.id,
                                 u.embedded_group_ids, "", true);
    if (owners == Owners::from_page)
        for (auto const& listed : page) {
            auto& a = st_->add_owner;
            rearm(a);
            a.bind(":dir", directory_id);
            a.bind(":owner", *listed.id);
            a.exec();
        }
    bool const staged = db_.getTotalChanges() != changes_before;
    st_->note_position(directory_id, next, last ? std::nullopt : std::optional(high),
                       {0, static_cast<std::int64_t>(page.size())}, staged || last);
    tx.commit();
}

void MirrorStore::begin_memberships(std::string const& directory_id, MembershipSource strategy)
{
    bool const per_group = strategy == MembershipSource::per_group;
    st_->forget_unsaved(directory_id);
    sql::WriteTransaction tx(db_);
    Params const p{.dir = directory_id};
    run(db_, "DELETE FROM staging.owners WHERE directory_id = :dir", p);
    // every object the listing found: mirrored and not passed over, or new
    run(db_,
        fmt::format("INSERT INTO staging.owners (directory_id, id) SELECT :dir, id FROM {0} "
                    "WHERE directory_id = :dir AND id NOT IN (SELECT id FROM "
                    "staging.pending_deletes WHERE directory_id = :dir AND entity = '{1}') UNION "
                    "SELECT :dir, id FROM staging.{2} WHERE directory_id = :dir",
                    per_group ? "groups" : "users", per_group ? "group" : "user",
                    per_group ? "staged_groups" : "staged_users"),
        p);
    SQLite::Statement phase(db_, "UPDATE staging.runs SET phase = 'memberships', cursor = NULL, "
                                 "high_id = NULL, strategy = :strategy WHERE directory_id = :dir");
    phase.bind(":dir", directory_id);
    phase.bind(":strategy", to_string(strategy));
    phase.exec();
    tx.commit();
}

void MirrorStore::stream_owners(std::string const& directory_id, MembershipSource strategy)
{
    st_->forget_unsaved(directory_id);
    sql::WriteTransaction tx(db_);
    Params const p{.dir = directory_id};
    run(db_, "DELETE FROM staging.owners WHERE directory_id = :dir", p);
    SQLite::Statement st(db_, "UPDATE staging.runs SET strategy = :strategy WHERE directory_id = "
                              ":dir");
    st.bind(":dir", directory_id);
    st.bind(":strategy", to_string(strategy));
    st.exec();
    tx.commit();
}

std::vector<Owner> MirrorStore::pending_owners(std::string const& directory_id,
                                               std::optional<std::string> const& after, int limit)
{
    SQLite::Statement q(db_, "SELECT id, cursor FROM staging.owners WHERE directory_id = :dir AND "
                             "done = 0 AND id > :after ORDER BY id LIMIT :limit");
    q.bind(":dir", directory_id);
    q.bind(":after", after.value_or(""));
    q.bind(":limit", limit);
    std::vector<Owner> out;
    while (q.executeStep()) {
        auto id = q.getColumn(0).getString();
        auto const* unsaved = st_->unsaved_of(directory_id, id);
        if (unsaved && unsaved->done)
            continue;
        out.push_back({std::move(id), unsaved ? unsaved->cursor : optional_text(q, 1)});
    }
    return out;
}

void MirrorStore::stage_members(std::string const& directory_id, MembershipSource strategy,
                                std::string const& owner, std::span<std::string const> member_ids,
                                std::optional<std::string> const& next)
{
    sql::WriteTransaction tx(db_);
    std::string lo;
    if (auto const* unsaved = st_->unsaved_of(directory_id, owner)) {
        lo = unsaved->high;
    } else {
        auto& h = st_->owner_high;
        rearm(h);
        h.bind(":dir", directory_id);
        h.bind(":owner", owner);
        if (!h.executeStep())
            throw std::logic_error("stage_members: " + owner + " is not an owner of " +
                                   directory_id);
        lo = h.getColumn(0).isNull() ? "" : h.getColumn(0).getString();
        h.reset();
    }
    auto const changes_before = db_.getTotalChanges();
    auto const high = st_->compare_members(
        directory_id, strategy, owner,
        std::vector<std::string>(member_ids.begin(), member_ids.end()), lo, !next);
    bool const staged = db_.getTotalChanges() != changes_before;
    st_->unsaved[{directory_id, owner}] = {next, high, !next};
    if (staged)
        st_->save_unsaved(&directory_id);
    else if (st_->unsaved.size() >= Statements::unsaved_limit)
        st_->save_unsaved();
    tx.commit();
}

void MirrorStore::finish_memberships(std::string const& directory_id)
{
    sql::WriteTransaction tx(db_);
    st_->save_unsaved(&directory_id);
    run(db_, "UPDATE staging.runs SET phase = 'done' WHERE directory_id = :dir",
        {.dir = directory_id});
    tx.commit();
}

std::pair<std::int64_t, std::int64_t> MirrorStore::owner_progress(std::string const& directory_id)
{
    SQLite::Statement q(db_, "SELECT COUNT(*), COALESCE(SUM(done), 0) FROM staging.owners WHERE "
                             "directory_id = :dir");
    q.bind(":dir", directory_id);
    q.executeStep();
    auto const unsaved_done = std::count_if(st_->unsaved.begin(), st_->unsaved.end(), [&](auto& e) {
        return e.first.first == directory_id && e.second.done;
    });
    return {q.getColumn(0).getInt64(), q.getColumn(1).getInt64() + unsaved_done};
}

MirrorStore::PendingDeletions MirrorStore::pending_deletions(std::string const& directory_id)
{
    SQLite::Statement q(
        db_, "SELECT (SELECT COUNT(*) FROM users WHERE directory_id = :dir), "
             "(SELECT listed_users FROM staging.runs WHERE directory_id = :dir), "
             "(SELECT COUNT(*) FROM staging.pending_deletes WHERE directory_id = :dir AND "
             "entity = 'user'), (SELECT COUNT(*) FROM groups WHERE directory_id = :dir), "
             "(SELECT COUNT(*) FROM staging.pending_deletes WHERE directory_id = :dir AND "
             "entity = 'group')");
    q.bind(":dir", directory_id);
    q.executeStep();
    return {q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64(),
            q.getColumn(3).getInt64(), q.getColumn(4).getInt64()};
}

} // namespace dirsync::store
