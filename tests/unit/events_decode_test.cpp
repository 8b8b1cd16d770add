#include "decode/events.hpp"
#include "support/fixtures.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::decode;

namespace {

EventPage page_of(std::string const& fixture_name)
{
    return parse_event_page("{\"object\":\"list\",\"data\":[" +
                            test::fixture("python/" + fixture_name) +
                            "],\"list_metadata\":{\"after\":null}}")
        .value();
}

Event const& only_event(EventPage const& page)
{
    EXPECT_EQ(page.items.size(), 1u);
    auto const* ev = std::get_if<Event>(&page.items.at(0));
    if (ev == nullptr)
        throw std::runtime_error("rejected: " + std::get<RejectedEvent>(page.items[0]).reason);
    return *ev;
}

} // namespace

TEST(DecodeEvents, EveryFixtureTypeDecodesToItsPayload)
{
    struct Case {
        char const* file;
        char const* type;
        std::size_t payload_index; // monostate, Directory, User, Group, MembershipEvent
    };
    for (auto const& c :
         std::vector<Case>{{"dsync_activated.json", "dsync.activated", 1},
                           {"dsync_deleted.json", "dsync.deleted", 1},
                           {"dsync_deactivated.json", "dsync.deactivated", 1},
                           {"dsync_user_created.json", "dsync.user.created", 2},
                           {"dsync_user_updated.json", "dsync.user.updated", 2},
                           {"dsync_user_deleted.json", "dsync.user.deleted", 2},
                           {"dsync_group_created.json", "dsync.group.created", 3},
                           {"dsync_group_updated.json", "dsync.group.updated", 3},
                           {"dsync_group_deleted.json", "dsync.group.deleted", 3},
                           {"dsync_group_user_added.json", "dsync.group.user_added", 4},
                           {"dsync_group_user_removed.json", "dsync.group.user_removed", 4},
                           {"dsync_token_created.json", "dsync.token.created", 0},
                           {"dsync_token_revoked.json", "dsync.token.revoked", 0}}) {
        auto page = page_of(c.file);
        auto const& ev = only_event(page);
        EXPECT_EQ(ev.type, c.type) << c.file;
        EXPECT_EQ(ev.payload.index(), c.payload_index) << c.file;
        EXPECT_TRUE(ev.directory_id.has_value()) << c.file;
    }
}

TEST(DecodeEvents, UpdatedSnapshotsDropPreviousAttributes)
{
    auto page = page_of("dsync_user_updated.json");
    auto const& u = std::get<User>(only_event(page).payload);
    EXPECT_EQ(u.raw_json.find("previous_attributes"), std::string::npos);
    EXPECT_EQ(u.email, "marcelina.davis@example.com");
}

TEST(DecodeEvents, MembershipEventCarriesBothEnds)
{
    auto page = page_of("dsync_group_user_added.json");
    auto const& m = std::get<MembershipEvent>(only_event(page).payload);
    EXPECT_EQ(m.user.id, "directory_user_01E1JG7J09H96KYP8HM9B0G5SJ");
    EXPECT_EQ(m.group.id, "directory_group_01E1JJS84MFPPQ3G655FHTKX6Z");
    EXPECT_EQ(m.directory_id, "directory_01EHWNCE74X7JSDV0X3SZ3KJNY");
}

TEST(DecodeEvents, ActivatedDirectoryTakesItsDomainFromDomains)
{
    auto page = page_of("dsync_activated.json");
    auto const& d = std::get<Directory>(only_event(page).payload);
    EXPECT_TRUE(d.domain.has_value());
}

TEST(DecodeEvents, PoisonEventsAreRejectedInPlaceAndTheRestKept)
{
    auto page = parse_event_page(R"({"data":[
        {"id":"event_1","event":"dsync.user.created","created_at":"2026-01-01T00:00:00Z",
         "data":{"id":"directory_user_1"}},
        {"id":"event_2","event":"dsync.group.user_added","created_at":"2026-01-01T00:00:00Z",
         "data":{"directory_id":"d"}},
        {"event":"dsync.user.created"},
        {"id":"event_4","event":"dsync.something.new","created_at":"2026-01-01T00:00:00Z",
         "data":{"directory_id":"directory_9"}}],
        "list_metadata":{"after":null}})")
                    .value();
    ASSERT_EQ(page.items.size(), 4u);
    auto const& bad = std::get<RejectedEvent>(page.items[0]);
    EXPECT_EQ(bad.id, "event_1");
    EXPECT_NE(bad.reason.find("field 'directory_id' is missing"), std::string::npos) << bad.reason;
    EXPECT_NE(bad.raw_json.find("directory_user_1"), std::string::npos);
    EXPECT_NE(std::get<RejectedEvent>(page.items[1]).reason.find("'user'"), std::string::npos);
    EXPECT_FALSE(std::get<RejectedEvent>(page.items[2]).id);
    auto const& unknown = std::get<Event>(page.items[3]);
    EXPECT_EQ(unknown.kind, EventKind::unknown);
    EXPECT_EQ(unknown.directory_id, "directory_9");
}

TEST(DecodeEvents, AnOverlongEventIdRejectsThePage)
{
    // the id is the stream's cursor: a page we could not resume from is not taken at all
    auto page = parse_event_page(
        R"({"data":[{"id":")" + std::string(300, 'e') +
        R"(","event":"dsync.user.created","created_at":"2026-01-01T00:00:00Z","data":{}}],"list_metadata":{"after":null}})");
    ASSERT_FALSE(page);
    EXPECT_EQ(page.error().path, "$.data[0].id");
    EXPECT_NE(page.error().reason.find("over the cap of 256"), std::string::npos);
}

TEST(DecodeEvents, RecordedEventListsDecode)
{
    auto page = parse_event_page(test::fixture("vcr/events__list_events_with_after.200.body"));
    ASSERT_TRUE(page);
    EXPECT_FALSE(parse_event_page("{\"data\":{}}"));
}
