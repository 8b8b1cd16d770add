#include "pg/change_feed.hpp"

#include <vector>

namespace dirsync::pg {

long long ChangeFeed::record(std::string const& now, std::span<Change const> changes)
{
    if (changes.empty())
        return max_seq_.value_or(0);
    std::vector<std::string> dirs, entities, ids, ops;
    for (auto const& c : changes) {
        dirs.push_back(c.directory_id);
        entities.emplace_back(c.entity);
        ids.push_back(c.entity_id);
        ops.emplace_back(c.op);
    }
    // WITH ORDINALITY keeps the batch's order in the seq values.
    auto const r =
        db_.exec("WITH added AS (INSERT INTO changes (changed_at, directory_id, "
                 "entity, entity_id, op) SELECT $1::timestamptz, d, e, i, o FROM "
                 "unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH "
                 "ORDINALITY AS batch (d, e, i, o, n) ORDER BY n RETURNING seq) "
                 "SELECT max(seq) FROM added",
                 {now, text_array(dirs), text_array(entities), text_array(ids), text_array(ops)});
    saw(r.integer(0, 0));
    return *max_seq_;
}

void ChangeFeed::notify_before_commit()
{
    if (!max_seq_)
        return;
    db_.exec("SELECT pg_notify($1, $2)", {changes_channel, std::to_string(*max_seq_)});
    max_seq_.reset();
}

} // namespace dirsync::pg
