#include "keel/runtime/span_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel {
namespace {

void add_turn(span_buffer& buffer, const std::string& key) {
  buffer.add([&](span_record& rec) {
    rec.actor = actor_id{"counter", key};
    rec.message = "Increment";
  });
}

TEST(SpanBuffer, AFullBatchDropsFurtherSpansAndCountsThem) {
  span_buffer buffer{2};
  add_turn(buffer, "a");
  add_turn(buffer, "b");
  add_turn(buffer, "c");  // no room: dropped, not waited for
  EXPECT_EQ(buffer.dropped(), 1u);
  std::vector<span_record> batch;
  ASSERT_EQ(buffer.take(batch), 2u);
  EXPECT_EQ(batch[0].actor, (actor_id{"counter", "a"}));
  EXPECT_EQ(batch[1].actor, (actor_id{"counter", "b"}));
}

TEST(SpanBuffer, TakeEmptiesTheBufferAndHandsTheOldBatchBackForReuse) {
  span_buffer buffer{2};
  add_turn(buffer, "a");
  std::vector<span_record> batch;
  ASSERT_EQ(buffer.take(batch), 1u);
  EXPECT_EQ(buffer.take(batch), 0u);  // nothing since the last take
  add_turn(buffer, "b");
  add_turn(buffer, "c");
  ASSERT_EQ(buffer.take(batch), 2u);  // room for a full batch again
  EXPECT_EQ(batch[0].actor, (actor_id{"counter", "b"}));
  EXPECT_EQ(batch[1].actor, (actor_id{"counter", "c"}));
  EXPECT_EQ(batch.size(), 2u);  // never more slots than the capacity
  EXPECT_EQ(buffer.dropped(), 0u);
}

}  // namespace
}  // namespace keel
