#include "keel/runtime/trace_id.hpp"
#include "keel/runtime/span_id.hpp"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(TraceId, ParsesAValidTraceparent) {
  auto id = trace_id::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  auto header = id->to_traceparent();
  EXPECT_EQ(header.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  EXPECT_EQ(header.size(), 55u);
}

TEST(TraceId, RejectsMalformedAndAllZeroIds) {
  for (auto bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736",
                   "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                   "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                   "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                   "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                   "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    EXPECT_FALSE(trace_id::from_traceparent(bad)) << bad;
}

TEST(TraceId, FreshIdsAreValidAndDistinct) {
  auto a = trace_id::make();
  auto b = trace_id::make();
  EXPECT_TRUE(a.valid());
  EXPECT_NE(a, b);
  EXPECT_EQ(a.to_hex().size(), 32u);
}

TEST(SpanId, TheClientsSpanComesFromAValidTraceparentOnly) {
  auto span = span_id::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(span);
  EXPECT_EQ(*span, span_id{0x00f067aa0ba902b7});
  EXPECT_EQ(span->to_hex(), "00f067aa0ba902b7");
  EXPECT_FALSE(
      span_id::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(
      span_id::from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
}

TEST(SpanId, FreshIdsAreValidAndDistinct) {
  auto a = span_id::make();
  auto b = span_id::make();
  EXPECT_TRUE(a.valid());
  EXPECT_NE(a, b);
  EXPECT_FALSE(span_id{}.valid());
}

}  // namespace
}  // namespace keel
