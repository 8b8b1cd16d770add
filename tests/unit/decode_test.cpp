#include "decode/decode.hpp"
#include "support/fixtures.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::decode;
using test::fixture;

TEST(DecodeDirectory, CurrentListFixture)
{
    auto page = parse_directory_page(fixture("python/list_directory.json")).value();
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_TRUE(page.rejected.empty());
    EXPECT_FALSE(page.after);
    auto const& d = page.items[0];
    EXPECT_EQ(d.id, "directory_01ECAZ4NV9QMV47GW873HDCX74");
    EXPECT_EQ(d.organization_id, "org_01EHZNVPK3SFK441A1RGBFSHRT");
    EXPECT_EQ(d.name, "Foo Corp");
    EXPECT_EQ(d.domain, "foo-corp.com");
    EXPECT_EQ(d.type, "gsuite directory");
    EXPECT_EQ(d.state, "linked");
    EXPECT_EQ(d.created_at.text, "2026-01-15T12:00:00.000Z");
    // unknown and optional fields are kept in raw_json
    EXPECT_NE(d.raw_json.find("\"metadata\""), std::string::npos);
    EXPECT_NE(d.raw_json.find("\"external_key\""), std::string::npos);
}

TEST(DecodeDirectory, SingleObjectFromRecording)
{
    auto d = parse_directory(fixture("vcr/directory_sync__get_directory_with_valid_id.200.body"))
                 .value();
    EXPECT_EQ(d.id, "directory_01FK17DWRHH7APAFXT5B52PV0W");
    EXPECT_EQ(d.domain, "example.me");
    EXPECT_EQ(d.type, "azure scim v2.0");
}

TEST(DecodeDirectory, RecordedListWithBothMetadataKeys)
{
    auto page = parse_directory_page(
                    fixture("vcr/directory_sync__list_directories__with_no_options.200.body"))
                    .value();
    EXPECT_EQ(page.items.size(), 10u);
    EXPECT_TRUE(page.rejected.empty());
}

TEST(DecodeUser, CurrentListFixtureWithEmbeddedGroups)
{
    auto page = parse_user_page(fixture("python/list_directory_user_with_groups.json")).value();
    ASSERT_EQ(page.items.size(), 1u);
    auto const& u = page.items[0];
    EXPECT_EQ(u.id, "directory_user_01E1JG7J09H96KYP8HM9B0G5SJ");
    EXPECT_EQ(u.email, "marcelina.davis@example.com");
    EXPECT_EQ(u.first_name, "Marcelina");
    EXPECT_EQ(u.last_name, "Davis");
    EXPECT_EQ(u.state, "active");
    EXPECT_EQ(u.role, "admin");
    EXPECT_EQ(u.idp_id, "2836");
    ASSERT_TRUE(u.custom_attributes);
    EXPECT_NE(u.custom_attributes->find("\"department\":\"Engineering\""), std::string::npos);
    EXPECT_EQ(u.embedded_group_ids,
              std::vector<std::string>{"directory_group_01E1JJS84MFPPQ3G655FHTKX6Z"});
    // raw_json is the object without its embedded groups; deprecated fields stay
    EXPECT_EQ(u.raw_json.find("\"groups\""), std::string::npos);
    EXPECT_NE(u.raw_json.find("\"job_title\""), std::string::npos);
}

TEST(DecodeUser, LegacyRecordingUsesListMetadataFallbackPrimaryEmailAndOffsetTimestamps)
{
    auto page =
        parse_user_page(fixture("vcr/directory_sync__list_users__with_directory.200.body")).value();
    ASSERT_EQ(page.items.size(), 4u);
    EXPECT_TRUE(page.rejected.empty());
    auto const& u = page.items[0];
    EXPECT_EQ(u.email, "dave.liu@workos.com"); // from emails[primary]
    EXPECT_FALSE(u.organization_id);
    EXPECT_EQ(u.created_at.text, "2021-07-31T05:10:19+0000"); // stored as sent
    EXPECT_GT(u.created_at.micros, 0);
    EXPECT_FALSE(u.embedded_group_ids.empty());
}

TEST(DecodeUser, SuspendedIsMappedToInactive)
{
    auto page = parse_user_page(R"({"data":[{"id":"directory_user_1","directory_id":"directory_1",
        "state":"suspended","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
        "list_metadata":{"after":null}})")
                    .value();
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].state, "inactive");
}

TEST(DecodeUser, MissingRequiredFieldNamesFieldTypeAndId)
{
    auto page = parse_user_page(R"({"data":[
        {"id":"directory_user_A","directory_id":"directory_1","state":"active",
         "created_at":"2026-01-01T00:00:00Z"},
        {"id":"directory_user_B","directory_id":"directory_1","state":"active",
         "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"},
        {"directory_id":"directory_1"},
        42],
        "list_metadata":{"after":"directory_user_B"}})")
                    .value();
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].id, "directory_user_B");
    ASSERT_EQ(page.rejected.size(), 3u);
    EXPECT_EQ(page.rejected[0].path, "$.data[0]");
    EXPECT_EQ(page.rejected[0].reason,
              "directory_user directory_user_A: field 'updated_at' is missing");
    EXPECT_EQ(page.rejected[0].id, "directory_user_A");
    EXPECT_EQ(page.rejected[1].reason, "directory_user: field 'id' is missing");
    EXPECT_FALSE(page.rejected[1].id);
    EXPECT_EQ(page.rejected[2].reason, "not an object");
    EXPECT_EQ(page.after, "directory_user_B");
}

TEST(DecodeUser, WrongTypesAreRejectedWithTheField)
{
    auto page = parse_user_page(R"({"data":[{"id":"directory_user_A","directory_id":"directory_1",
        "state":"active","email":7,"created_at":"2026-01-01T00:00:00Z",
        "updated_at":"not a time"}],"list_metadata":{"after":null}})")
                    .value();
    ASSERT_EQ(page.rejected.size(), 1u);
    EXPECT_EQ(page.rejected[0].reason,
              "directory_user directory_user_A: field 'email' is not a string");
}

namespace {

std::string user_json(std::string const& id, std::string const& first_name,
                      std::string const& raw_attributes = "{}")
{
    return R"({"id":")" + id + R"(","directory_id":"directory_1","state":"active","first_name":")" +
           first_name + R"(","raw_attributes":)" + raw_attributes +
           R"(,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"})";
}

} // namespace

TEST(DecodeUser, OverlongStringsAreRejectedNamingTheFieldAndTheCap)
{
    std::string const long_id = "directory_user_" + std::string(max_id_bytes, 'x');
    std::string const huge_blob = R"({"photo":")" + std::string(max_record_bytes, 'p') + R"("})";
    auto page =
        parse_user_page(R"({"data":[)" + user_json("directory_user_A", "Ann") + "," +
                        user_json("directory_user_B", std::string(max_text_bytes + 1, 'b')) + "," +
                        user_json(long_id, "Cid") + "," +
                        user_json("directory_user_D", "Dee", huge_blob) +
                        R"(],"list_metadata":{"after":null}})")
            .value();
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].id, "directory_user_A");
    ASSERT_EQ(page.rejected.size(), 3u);
    EXPECT_EQ(page.rejected[0].reason,
              fmt::format("directory_user directory_user_B: field 'first_name' is {} bytes long, "
                          "over the cap of {}",
                          max_text_bytes + 1, max_text_bytes));
    EXPECT_EQ(page.rejected[0].id, "directory_user_B"); // kept as stored
    EXPECT_NE(page.rejected[1].reason.find("field 'id' is 271 bytes long, over the cap of 256"),
              std::string::npos)
        << page.rejected[1].reason;
    EXPECT_FALSE(page.rejected[1].id); // an id we cannot trust is no id: the sync stops
    EXPECT_NE(page.rejected[2].reason.find("directory_user_D: the record is"), std::string::npos)
        << page.rejected[2].reason;
}

TEST(DecodePage, AnOverlongCursorRejectsThePage)
{
    auto page = parse_group_page(R"({"data":[],"list_metadata":{"after":")" +
                                 std::string(max_id_bytes + 1, 'c') + R"("}})");
    ASSERT_FALSE(page);
    EXPECT_EQ(page.error().path, "$.list_metadata.after");
    EXPECT_NE(page.error().reason.find("over the cap of 256"), std::string::npos);
}

TEST(DecodeGroup, CurrentAndRecordedLists)
{
    auto current = parse_group_page(fixture("python/list_directory_group.json")).value();
    ASSERT_EQ(current.items.size(), 1u);
    EXPECT_EQ(current.items[0].name, "Developers");
    EXPECT_EQ(current.items[0].idp_id, "02grqrue4294w24");

    auto recorded =
        parse_group_page(fixture("vcr/directory_sync__list_groups__with_directory.200.body"))
            .value();
    EXPECT_EQ(recorded.items.size(), 10u);
    EXPECT_TRUE(recorded.rejected.empty());
    EXPECT_FALSE(recorded.items[0].organization_id); // absent in old data
}

TEST(DecodeGroup, EmbeddedAndEventGroupFixturesDecode)
{
    auto page = parse_group_page("{\"data\":[" + fixture("python/directory_group.json") +
                                 "],\"list_metadata\":{\"after\":null}}")
                    .value();
    EXPECT_EQ(page.items.size(), 1u);
}

TEST(DecodePage, RejectsDocumentsThatAreNotListEnvelopes)
{
    EXPECT_EQ(parse_user_page("{\"data\":{}}").error().path, "$.data");
    EXPECT_EQ(parse_user_page("[]").error().path, "$");
    EXPECT_EQ(parse_user_page("{\"data\":[]}").error().path, "$.list_metadata");
    auto truncated = parse_user_page("{\"data\":[{\"id\":");
    ASSERT_FALSE(truncated);
    EXPECT_NE(truncated.error().reason.find("invalid JSON"), std::string::npos);
    EXPECT_EQ(parse_user_page("{\"data\":[],\"list_metadata\":{\"after\":5}}").error().path,
              "$.list_metadata.after");
}

TEST(DecodePage, ValueThrowsAReadableError)
{
    try {
        (void)parse_group_page("{\"data\":3}").value();
        FAIL() << "expected a DecodeException";
    } catch (DecodeException const& e) {
        EXPECT_STREQ(e.what(), "$.data: expected an array");
    }
}

TEST(DecodePage, RejectsDeeplyNestedDocuments)
{
    std::string deep(200, '[');
    deep += std::string(200, ']');
    EXPECT_FALSE(parse_user_page(deep));
}

TEST(DecodeErrorBody, ObjectWithCodeAndEntity)
{
    auto e =
        parse_error_body(fixture("vcr/directory_sync__get_directory_with_invalid_id.404.body"));
    EXPECT_EQ(e.message, "Directory not found: 'invalid'.");
    EXPECT_EQ(e.code, "entity_not_found");
}

TEST(DecodeErrorBody, ValidationErrors)
{
    auto e = parse_error_body(fixture("vcr/directory_sync__list_users__with_no_options.422.body"));
    EXPECT_EQ(e.message, "Validation failed");
    ASSERT_EQ(e.errors.size(), 2u);
    EXPECT_EQ(e.errors[0].first, "directory");
}

TEST(DecodeErrorBody, BareStringAndHtmlAndGarbage)
{
    EXPECT_EQ(parse_error_body("\"Ratelimited\"").message, "Ratelimited");
    EXPECT_EQ(parse_error_body("<html>\n<h1>502</h1></html>").message,
              "<html> <h1>502</h1></html>");
    EXPECT_EQ(parse_error_body("").message, "");
    EXPECT_FALSE(parse_error_body("{\"message\":5}").code);
}

TEST(DecodeMemberPage, IdsAndDirectoriesOnlyWithTheCursor)
{
    auto const page = dirsync::decode::parse_member_page(
        R"({"object":"list","data":[
              {"object":"directory_user","id":"directory_user_1","directory_id":"directory_1",
               "emails":[{"value":"a@b"}],"role":{"slug":"x"},"custom_attributes":{"id":"no"}},
              {"id":"directory_user_\u0032","name":{"id":"nested ids are not the record's"}}],
            "list_metadata":{"before":null,"after":"directory_user_2"}})");
    ASSERT_TRUE(page) << page.error().message();
    ASSERT_EQ(page->items.size(), 2u);
    EXPECT_EQ(page->items[0].id, "directory_user_1");
    EXPECT_EQ(page->items[0].directory_id, "directory_1");
    EXPECT_EQ(page->items[1].id, "directory_user_2") << "escapes are decoded";
    EXPECT_FALSE(page->items[1].directory_id);
    EXPECT_EQ(page->after, "directory_user_2");
    EXPECT_TRUE(page->rejected.empty());
}

TEST(DecodeMemberPage, RecordsWithoutIdsAreRejectedInPlaceAndBadDocumentsAsAWhole)
{
    using dirsync::decode::parse_member_page;
    auto const page = parse_member_page(
        R"({"data":[{"name":"x"},"text",{"id":7},{"id":"g1"}],"listMetadata":{"after":null}})");
    ASSERT_TRUE(page) << page.error().message();
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].id, "g1");
    ASSERT_EQ(page->rejected.size(), 3u);
    EXPECT_EQ(page->rejected[1].path, "$.data[1]");
    EXPECT_FALSE(page->rejected[0].id);
    EXPECT_FALSE(page->after) << "legacy listMetadata is read";

    EXPECT_EQ(parse_member_page("[]").error().path, "$");
    EXPECT_EQ(parse_member_page(R"({"data":{},"list_metadata":{}})").error().path, "$.data");
    EXPECT_EQ(parse_member_page(R"({"data":[]})").error().path, "$.list_metadata");
    EXPECT_EQ(parse_member_page(R"({"data":[],"list_metadata":{"after":3}})").error().path,
              "$.list_metadata.after");
    EXPECT_EQ(parse_member_page(R"({"data":[{"id":"x"})").error().path, "$") << "truncated JSON";
    auto const long_cursor =
        R"({"data":[],"list_metadata":{"after":")" + std::string(300, 'c') + R"("}})";
    EXPECT_NE(parse_member_page(long_cursor).error().reason.find("over the cap"),
              std::string::npos);
}
