#include "keel/otlp/span_encoding.hpp"

#include <gtest/gtest.h>

#include <map>

#include "keel/otlp/otlp_exporter.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/test/otlp_receiver.hpp"

namespace keel::otlp {
namespace {

using test::hex_of;

span_record ride_turn() {
  span_record rec;
  rec.trace = *trace_id::from_hex("0af7651916cd43dd8448eb211c80319c");
  rec.span = span_id{0xb7ad6b7169203331};
  rec.parent = span_id{0x00f067aa0ba902b7};
  rec.actor = actor_id{"ride", "r-1"};
  rec.message = "RequestRide";
  rec.caller = "http";
  rec.outcome = "ok";
  rec.start_ticks = 1000;
  rec.end_ticks = 1000 + 3'000'000;
  rec.version_before = 0;
  rec.version_after = 1;
  return rec;
}

std::map<std::string, std::string> strings_of(
    const google::protobuf::RepeatedPtrField<KeyValue>& attrs) {
  std::map<std::string, std::string> out;
  for (const auto& kv : attrs)
    out[kv.key()] = kv.value().has_int_value() ? std::to_string(kv.value().int_value())
                                               : kv.value().string_value();
  return out;
}

TEST(SpanEncoding, ATurnBecomesASpanWithItsIdsParentTimesAndAttributes) {
  std::vector<span_record> records{ride_turn()};
  const clock_anchor now{records[0].end_ticks, 1'700'000'000'000'000'000};
  auto request = encode_spans({"n2", "prod"}, records, 0, 1, now);
  ASSERT_EQ(request.resource_spans_size(), 1);
  const auto& rs = request.resource_spans(0);
  EXPECT_EQ(strings_of(rs.resource().attributes()),
            (std::map<std::string, std::string>{{"service.name", "keel"},
                                                {"service.instance.id", "n2"},
                                                {"keel.node.id", "n2"},
                                                {"keel.cluster.name", "prod"}}));
  ASSERT_EQ(rs.scope_spans_size(), 1);
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 1);
  const auto& span = rs.scope_spans(0).spans(0);
  EXPECT_EQ(hex_of(span.trace_id()), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(hex_of(span.span_id()), "b7ad6b7169203331");
  EXPECT_EQ(hex_of(span.parent_span_id()), "00f067aa0ba902b7");
  EXPECT_EQ(span.name(), "ride/RequestRide");
  EXPECT_EQ(span.kind(), Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.end_time_unix_nano(), 1'700'000'000'000'000'000u);
  auto took = fast_clock::to_duration(3'000'000).count();
  EXPECT_EQ(span.start_time_unix_nano(), 1'700'000'000'000'000'000u - static_cast<uint64_t>(took));
  EXPECT_EQ(strings_of(span.attributes()),
            (std::map<std::string, std::string>{{"keel.actor.type", "ride"},
                                                {"keel.actor.key", "r-1"},
                                                {"keel.message", "RequestRide"},
                                                {"keel.caller", "http"},
                                                {"keel.outcome", "ok"},
                                                {"keel.version.before", "0"},
                                                {"keel.version.after", "1"}}));
  EXPECT_FALSE(span.has_status());  // a success leaves the status unset
}

TEST(SpanEncoding, AFailedRootTurnHasNoParentAndAnErrorStatusNamingItsCode) {
  std::vector<span_record> records{ride_turn()};
  records[0].parent = span_id{};
  records[0].outcome = "unavailable";
  auto request = encode_spans({"n1", "keel"}, records, 0, 1, {records[0].end_ticks, 0});
  const auto& span = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_TRUE(span.parent_span_id().empty());
  EXPECT_EQ(span.status().code(), Status::STATUS_CODE_ERROR);
  EXPECT_EQ(span.status().message(), "unavailable");
}

TEST(OtlpEndpoint, ABaseUrlGetsTheTracesPathAndAFullUrlIsKept) {
  auto base = parse_endpoint("http://collector:4318");
  ASSERT_TRUE(base);
  EXPECT_EQ(base->scheme_host_port, "http://collector:4318");
  EXPECT_EQ(base->path, "/v1/traces");
  auto full = parse_endpoint("https://collector/otlp/v1/traces");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->scheme_host_port, "https://collector");
  EXPECT_EQ(full->path, "/otlp/v1/traces");
  for (const char* bad : {"collector:4318", "ftp://collector", "http://", "http:///v1/traces"}) {
    auto parsed = parse_endpoint(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(code_of(parsed.error()), errc::bad_payload) << bad;
  }
}

}  // namespace
}  // namespace keel::otlp
