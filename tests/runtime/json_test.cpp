#include "keel/runtime/http/json.hpp"

#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/errc.hpp"

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

TEST(Json, PrintsZerosAndCamelCase) {
  builtin::Relay relay;
  relay.set_target_type("slow");
  EXPECT_EQ(to_json(relay), R"({"targetType":"slow","targetKey":"","sleepMs":0})");
  builtin::CounterValue v;
  v.set_value(2);
  EXPECT_EQ(to_json(v), R"({"value":"2"})");  // int64 prints as a string (docs/api.md)
}

TEST(Json, ErrorBodyEscapes) {
  EXPECT_EQ(error_body("bad_payload", "a \"b\"\n"),
            R"({"error":{"code":"bad_payload","message":"a \"b\"\n"}})");
}

}  // namespace
}  // namespace keel::http
