// The merge's SQL, built as text from the tables it touches (lib/store/merge_sql.hpp).
#include "store/merge_sql.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

using namespace dirsync::store::sql;

TEST(MergeSql, OneUpsertBuilderForEveryUpsert)
{
    std::vector<char const*> const cols{"id", "name", "raw_json"};
    EXPECT_EQ(values(cols), "VALUES (:id, :name, :raw_json)");
    EXPECT_EQ(upsert("t", cols, values(cols), "c"),
              "INSERT INTO t (id, name, raw_json) VALUES (:id, :name, :raw_json) ON CONFLICT (id) "
              "DO UPDATE SET name = excluded.name, raw_json = excluded.raw_json WHERE c");
    EXPECT_EQ(newer_and_different("t"), "t.raw_json IS NOT excluded.raw_json AND "
                                        "excluded.updated_at_us >= t.updated_at_us");
}

TEST(MergeSql, KeyedColumnsAreSetOnlyWhenTheyDiffer)
{
    // An upsert that sets an indexed column rewrites its index entries even for the same value:
    // event upserts leave those columns to a rekey that runs only where they differ.
    std::vector<char const*> const cols{"id", "email", "raw_json"};
    EXPECT_EQ(upsert("t", cols, values(cols), "c", {"email"}),
              "INSERT INTO t (id, email, raw_json) VALUES (:id, :email, :raw_json) ON CONFLICT "
              "(id) DO UPDATE SET raw_json = excluded.raw_json WHERE c");
    EXPECT_EQ(rekey("t", {"email", "name"}),
              "UPDATE t SET email = :email, name = :name WHERE id = :id AND (email IS NOT :email "
              "OR name IS NOT :name)");
    for (auto const* c : users_table.keyed)
        EXPECT_NE(std::find_if(users_table.columns.begin(), users_table.columns.end(),
                               [c](char const* col) { return std::string_view(col) == c; }),
                  users_table.columns.end())
            << c << " is a stored column";
}

TEST(MergeSql, EachStepAppliesExactlyWhatItRecorded)
{
    for (auto const& step :
         {merge_upserts(users_table), merge_upserts(groups_table), merge_added_memberships(),
          merge_removed_memberships(), merge_memberships_of_gone(), merge_deletes(users_table)}) {
        EXPECT_EQ(step.record.rfind("INSERT INTO changes ", 0), 0u) << step.record;
        EXPECT_NE(step.apply.find("FROM changes"), std::string::npos) << step.apply;
        EXPECT_NE(step.apply.find("seq > :since_seq"), std::string::npos) << step.apply;
        EXPECT_EQ(step.record.find(":since_seq"), std::string::npos)
            << "the record decides; it does not look at what it records";
    }
}

TEST(MergeSql, WhatEventsTouchedIsLeftAloneAndTombstonesAreHonoured)
{
    auto const users = merge_upserts(users_table);
    EXPECT_NE(users.record.find("resync_touched"), std::string::npos);
    EXPECT_NE(users.record.find("tombstones"), std::string::npos);
    EXPECT_NE(users.record.find("s.updated_at_us >= t.updated_at_us"), std::string::npos)
        << "an older staged copy never replaces a newer row";
    for (auto const& step : {merge_added_memberships(), merge_removed_memberships()})
        EXPECT_NE(step.record.find("resync_touched"), std::string::npos);
    EXPECT_NE(merge_deletes(groups_table).record.find("resync_touched"), std::string::npos);
    // a membership is added only when both ends are mirrored and neither is being deleted
    auto const added = merge_added_memberships().record;
    EXPECT_NE(added.find("FROM users u WHERE u.id = d.user_id"), std::string::npos);
    EXPECT_NE(added.find("FROM groups g WHERE g.id = d.group_id"), std::string::npos);
    EXPECT_NE(added.find("pd.entity = 'user'"), std::string::npos);
}
