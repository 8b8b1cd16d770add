// The fake must follow the spec (section 3.5, 6, 7, 10) or the integration tests prove nothing.
#include "fake_api.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace fake;
namespace json = boost::json;

namespace {

class FakeApiTest : public ::testing::Test {
protected:
    FakeApi api{Dataset::generate({7, 2, 40, 6, 2}), [] {
                    FakeOptions o;
                    o.rate_limit = false;
                    return o;
                }()};

    FakeResponse get(std::string const& target, bool auth = true)
    {
        FakeRequest r{"GET", target, {}};
        if (auth)
            r.headers["authorization"] = "Bearer " + api.options().api_key;
        return api.handle(r);
    }
    json::object body(std::string const& target)
    {
        auto r = get(target);
        EXPECT_EQ(r.status, 200u) << target << " " << r.body;
        return json::parse(r.body).as_object();
    }
    std::string first_directory() { return api.dataset().directories().begin()->first; }
    std::vector<std::string> ids(json::object const& page)
    {
        std::vector<std::string> out;
        for (auto const& item : page.at("data").as_array())
            out.emplace_back(item.at("id").as_string());
        return out;
    }
};

} // namespace

TEST_F(FakeApiTest, RequiresTheApiKey)
{
    EXPECT_EQ(get("/directories", false).status, 401u);
    EXPECT_EQ(get("/directories").status, 200u);
}

TEST_F(FakeApiTest, AscendingPagesFollowTheAfterCursorToTheEnd)
{
    auto const dir = first_directory();
    std::vector<std::string> all;
    std::string target = "/directory_users?directory=" + dir + "&limit=7&order=asc";
    for (int guard = 0; guard < 10; ++guard) {
        auto page = body(target);
        auto const page_ids = ids(page);
        all.insert(all.end(), page_ids.begin(), page_ids.end());
        auto const& after = page.at("list_metadata").at("after");
        if (after.is_null())
            break;
        target = "/directory_users?directory=" + dir +
                 "&limit=7&order=asc&after=" + std::string(after.as_string());
    }
    EXPECT_EQ(all.size(), 20u);
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 20u);
}

TEST_F(FakeApiTest, DescendingAndBeforeCursors)
{
    auto const dir = first_directory();
    auto const first = body("/directory_users?directory=" + dir + "&limit=5&order=desc");
    auto const page_ids = ids(first);
    EXPECT_TRUE(std::is_sorted(page_ids.rbegin(), page_ids.rend()));
    EXPECT_TRUE(first.at("list_metadata").at("before").is_null());
    auto const next_cursor = std::string(first.at("list_metadata").at("after").as_string());
    auto const second =
        body("/directory_users?directory=" + dir + "&limit=5&order=desc&after=" + next_cursor);
    // going back from the second page's first item returns the first page
    auto const back_cursor = std::string(second.at("list_metadata").at("before").as_string());
    auto const back =
        body("/directory_users?directory=" + dir + "&limit=5&order=desc&before=" + back_cursor);
    EXPECT_EQ(ids(back), page_ids);
}

TEST_F(FakeApiTest, ValidationErrors)
{
    EXPECT_EQ(get("/directory_users").status, 422u);
    EXPECT_EQ(get("/directory_groups").status, 422u);
    EXPECT_EQ(get("/directory_users?group=directory_group_X&email=a@b").status, 422u);
    EXPECT_EQ(get("/directory_users?directory=d&limit=0").status, 422u);
    EXPECT_EQ(get("/directory_users?directory=d&limit=101").status, 422u);
    auto bad_cursor = get("/directory_users?directory=d&after=nonsense");
    EXPECT_EQ(bad_cursor.status, 422u);
    EXPECT_NE(bad_cursor.body.find("invalid_cursor"), std::string::npos);
}

TEST_F(FakeApiTest, MembershipListingsAgreeWithEachOther)
{
    auto const& ds = api.dataset();
    for (auto const& [gid, g] : ds.groups()) {
        auto members = ids(body("/directory_users?group=" + gid + "&limit=100&order=asc"));
        for (auto const& uid : members) {
            auto groups = ids(body("/directory_groups?user=" + uid + "&limit=100&order=asc"));
            EXPECT_NE(std::find(groups.begin(), groups.end(), gid), groups.end());
        }
    }
}

TEST_F(FakeApiTest, EmbeddedGroupsCanBeSwitchedOff)
{
    auto const dir = first_directory();
    auto with = body("/directory_users?directory=" + dir + "&limit=100&order=asc");
    std::size_t embedded = 0;
    for (auto const& u : with.at("data").as_array())
        embedded += u.at("groups").as_array().size();
    EXPECT_GT(embedded, 0u);
    api.options().empty_embedded_groups = true;
    auto without = body("/directory_users?directory=" + dir + "&limit=100&order=asc");
    for (auto const& u : without.at("data").as_array())
        EXPECT_TRUE(u.at("groups").as_array().empty());
}

TEST_F(FakeApiTest, RateLimitAnswers429WithRetryAfterAndCountsEarlyRetries)
{
    api.options().rate_limit = true;
    api.options().directory_users_per_second = 1;
    auto const dir = first_directory();
    auto const target = "/directory_users?directory=" + dir;
    EXPECT_EQ(get(target).status, 200u);
    auto limited = get(target);
    EXPECT_EQ(limited.status, 429u);
    EXPECT_NE(limited.body.find("rate_limit_exceeded"), std::string::npos);
    bool has_retry_after = false;
    for (auto const& [n, v] : limited.headers)
        has_retry_after |= n == "Retry-After" && v == "1";
    EXPECT_TRUE(has_retry_after);
    get(target); // too early
    EXPECT_GE(api.stats().early_retries, 1u);
}

TEST_F(FakeApiTest, DeletingADirectoryRemovesEverythingUnderIt)
{
    auto const dir = first_directory();
    FakeRequest del{"DELETE", "/directories/" + dir, {}};
    del.headers["authorization"] = "Bearer " + api.options().api_key;
    auto res = api.handle(del);
    EXPECT_EQ(res.status, 202u);
    EXPECT_EQ(res.body, "Accepted");
    EXPECT_EQ(get("/directories/" + dir).status, 404u);
    for (auto const& [uid, u] : api.dataset().users())
        EXPECT_NE(u.directory_id, dir);
}
