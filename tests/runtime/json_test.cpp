#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/gateway.hpp"

#include <limits>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/test/json_equivalence.hpp"

namespace keel::http {
namespace {

TEST(Json, EmptyBodyMeansEmptyObject) {
  builtin::Increment inc;
  EXPECT_FALSE(parse_json("", inc));
  EXPECT_FALSE(parse_json("  \n", inc));
  EXPECT_EQ(inc.by(), 0);
}

TEST(Json, AcceptsNumbersAndInt64Strings) {
  builtin::Increment inc;
  ASSERT_FALSE(parse_json(R"({"by":7})", inc));
  EXPECT_EQ(inc.by(), 7);
  ASSERT_FALSE(parse_json(R"({"by":"9"})", inc));
  EXPECT_EQ(inc.by(), 9);
}

TEST(Json, WrongTypeNamesTheFieldInCamelCase) {
  builtin::Relay relay;
  auto err = parse_json(R"({"targetType":5})", relay);
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err).rfind("field 'targetType': ", 0), 0u) << message_of(err);
}

TEST(Json, UnknownFieldIsNamed) {
  builtin::Increment inc;
  auto err = parse_json(R"({"by":1,"bogus":2})", inc);
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err), "unknown field 'bogus'");
}

TEST(Json, MalformedJsonIsBadPayload) {
  builtin::Increment inc;
  auto err = parse_json(R"({"by":)", inc);
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err).rfind("malformed JSON: ", 0), 0u) << message_of(err);
}

// Both parsers refuse these bodies; what matters is the message naming the field, and that
// nothing ill-formed is ever stored.
TEST(Json, IllFormedUtf8InAStringIsRefusedNamingTheField) {
  for (std::string bad :
       {"\xc0\xaf", "a\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xff", "abc\xe2\x82",
        R"(\ud800)", R"(\udc00)", R"(\ud800\u0041)", R"(x\ud800")"}) {
    builtin::Echo echo;
    auto err = parse_json(R"({"number":1,"text":")" + bad + R"(","flag":true})", echo);
    ASSERT_TRUE(err) << testing::PrintToString(bad);
    EXPECT_EQ(code_of(err), errc::bad_payload);
    EXPECT_EQ(message_of(err), "field 'text': not valid UTF-8") << testing::PrintToString(bad);
  }
  builtin::Relay relay;  // a proto name is named as the API spells it
  auto err = parse_json("{\"target_type\":\"counter\",\"target_key\":\"\xc0\xaf\"}", relay);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err), "field 'targetKey': not valid UTF-8");
}

TEST(Json, IllFormedUtf8IsLocatedInNestedObjectsArraysAndNames) {
  google::protobuf::Struct any;
  auto err = parse_json("{\"a\":1,\"b\":{\"c\":[\"ok\",\"\\\"\",\"\xc0\xaf\"]}}", any);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err), "field 'b.c[2]': not valid UTF-8");
  err = parse_json("{\"b\":{\"ok\":1,\"\xc0\xaf\":2}}", any);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err), "a field name in 'b' is not valid UTF-8");
  builtin::Increment inc;
  err = parse_json("{\"by\":1\xc0}", inc);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err),
            "malformed JSON: byte 7 is not valid UTF-8 and lies outside any string");
}

TEST(Json, WellFormedUnicodeIsKept) {
  builtin::Echo echo;
  ASSERT_FALSE(parse_json(R"({"text":"M)"
                          "\xc3\xbc"
                          R"(nchen \ud83d\ude95 \u00fc"})",
                          echo));
  EXPECT_EQ(echo.text(), "M\xc3\xbcnchen \xf0\x9f\x9a\x95 \xc3\xbc");
  builtin::ReminderCount count;
  ASSERT_FALSE(parse_json("{\"names\":[\"\xe2\x86\x92\",\"\xf4\x8f\xbf\xbf\"]}", count));
  ASSERT_EQ(count.names_size(), 2);
  EXPECT_EQ(count.names(1), "\xf4\x8f\xbf\xbf");
}

// Protobuf's parser reads some numbers through a double and stores its rounding in an
// integer field: -9223372036854775809 became INT64_MIN.
TEST(Json, IntegerFieldsTakeANumberOnlyAsWrittenAndInRange) {
  const std::pair<std::string, std::string> refused[] = {
      {"-9223372036854775809", "field 'by': -9223372036854775809 is out of range for int64"},
      {"9223372036854775808", "field 'by': 9223372036854775808 is out of range for int64"},
      {"-1e19", "field 'by': -1e19 is out of range for int64"},
      {"18446744073709551616", "field 'by': 18446744073709551616 is out of range for int64"},
      {"1e400", "field 'by': 1e400 is out of range for int64"},
      {"-9223372036854775807.5", "field 'by': -9223372036854775807.5 is not an integer"},
      {"1.5", "field 'by': 1.5 is not an integer"},
      {"9007199254740993.0",
       "field 'by': 9007199254740993.0 cannot be read exactly (past 2^53 a number with a "
       "fraction or an exponent is rounded): write it as a plain integer"},
  };
  for (const auto& [number, message] : refused) {
    builtin::Increment inc;
    auto err = parse_json(R"({"by":)" + number + "}", inc);
    ASSERT_TRUE(err) << number << " was read as " << inc.by();
    EXPECT_EQ(code_of(err), errc::bad_payload);
    EXPECT_EQ(message_of(err), message) << number;
  }
  const std::pair<std::string, int64_t> accepted[] = {
      {"-9223372036854775808", std::numeric_limits<int64_t>::min()},
      {"9223372036854775807", std::numeric_limits<int64_t>::max()},
      {R"("-9223372036854775808")", std::numeric_limits<int64_t>::min()},
      {"1e18", 1'000'000'000'000'000'000},
      {"9007199254740992.0", 9'007'199'254'740'992},
      {"-2.50e1", -25},
      {"-0.0", 0},
  };
  for (const auto& [number, value] : accepted) {
    builtin::Increment inc;
    auto err = parse_json(R"({"by":)" + number + "}", inc);
    ASSERT_FALSE(err) << number << ": " << message_of(err);
    EXPECT_EQ(inc.by(), value) << number;
  }
  builtin::Relay relay;  // int32, and a field named as the API spells it
  auto err = parse_json(R"({"sleep_ms":2147483647.0000000001})", relay);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err), "field 'sleepMs': 2147483647.0000000001 is not an integer");
  err = parse_json(R"({"sleepMs":-2147483649})", relay);
  ASSERT_TRUE(err);
  EXPECT_EQ(message_of(err), "field 'sleepMs': -2147483649 is out of range for int32");
  google::protobuf::Struct any;  // numbers of doubles are rounded as doubles are
  EXPECT_FALSE(parse_json(R"({"a":{"b":[9007199254740993.0,1e300]}})", any));
}

TEST(Json, PrintsZerosAndCamelCase) {
  builtin::Relay relay;
  relay.set_target_type("slow");
  EXPECT_EQ(to_json(relay), R"({"targetType":"slow","targetKey":"","sleepMs":0})");
  builtin::CounterValue v;
  v.set_value(2);
  EXPECT_EQ(to_json(v), R"({"value":"2"})");  // int64 prints as a string (docs/api.md)
}

// to_json prints most messages itself; it must print exactly what protobuf's printer does.
TEST(Json, PrintsWhatProtobufPrintsForEveryRuntimeMessage) {
  test::expect_to_json_matches_protobuf(builtin::Echo::descriptor()->file(), 300);
  test::expect_to_json_matches_protobuf(keel::runtime::ReminderRecord::descriptor()->file(), 300);
}

// parse_json reads plain bodies itself; it must read exactly what protobuf's parser reads.
TEST(Json, ReadsWhatProtobufReadsForEveryRuntimeMessage) {
  test::expect_parse_json_matches_protobuf(builtin::Echo::descriptor()->file(), 300);
  test::expect_parse_json_matches_protobuf(keel::runtime::ReminderRecord::descriptor()->file(),
                                           300);
}

// Types the direct printer and reader leave to protobuf (well-known types, whose JSON forms
// are special) still come out as protobuf's.
TEST(Json, WellKnownTypesAreLeftToProtobuf) {
  test::expect_to_json_matches_protobuf(google::protobuf::Timestamp::descriptor()->file(), 100);
  test::expect_to_json_matches_protobuf(google::protobuf::Duration::descriptor()->file(), 100);
  test::expect_parse_json_matches_protobuf(google::protobuf::Duration::descriptor()->file(), 100);
}

TEST(Json, PrintsEveryAsciiCharacterAsProtobufDoes) {
  for (int c = 0; c < 128; ++c) {
    builtin::Echo echo;
    echo.set_text(std::string{"a"} + static_cast<char>(c) + "b");
    EXPECT_EQ(to_json(echo), test::protobuf_json(echo)) << "character " << c;
  }
}

TEST(RateLimitFlag, ParsesRatesUnitsAndBursts) {
  auto off = parse_rate_limit("off");
  ASSERT_TRUE(off);
  EXPECT_FALSE(*off);
  auto per_second = parse_rate_limit("100/s,burst=200");
  ASSERT_TRUE(per_second && *per_second);
  EXPECT_EQ((*per_second)->per_second, 100);
  EXPECT_EQ((*per_second)->burst, 200);
  auto per_minute = parse_rate_limit("60/m");
  ASSERT_TRUE(per_minute && *per_minute);
  EXPECT_EQ((*per_minute)->per_second, 1);
  EXPECT_EQ((*per_minute)->burst, 1);
  for (auto bad : {"lots", "10", "10/h", "0/s", "5/s,burst=0", "5/s,bursty=3", "5/s,burst=3x"}) {
    auto r = parse_rate_limit(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(code_of(r.error()), errc::bad_payload) << bad;
  }
}

TEST(Json, ErrorBodyEscapes) {
  EXPECT_EQ(error_body("bad_payload", "a \"b\"\n"),
            R"({"error":{"code":"bad_payload","message":"a \"b\"\n"}})");
}

TEST(Json, IllFormedUtf8IsEscapedAsTheReplacementCharacter) {
  EXPECT_EQ(error_body("not_found", "no route for GET /\xc0\xaf/\xc3\xbc\xe2\x82"),
            R"({"error":{"code":"not_found","message":"no route for GET /\ufffd\ufffd/)"
            "\xc3\xbc"
            R"(\ufffd\ufffd"}})");
  EXPECT_EQ(json_escape("\xf0\x9f\x9a\x95 \"ok\""), "\xf0\x9f\x9a\x95 \\\"ok\\\"");
}

}  // namespace
}  // namespace keel::http
