#include <string>

#include <gtest/gtest.h>

#include "keel/cluster/wire_checks.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

namespace keel::cluster {
namespace {

class DecodeCall : public ::testing::Test {
 protected:
  DecodeCall() {
    register_counter(types_);
    builtin::Increment by_two;
    by_two.set_by(2);
    call_.target_type = "counter";
    call_.target_key = "a";
    call_.message_type = "Increment";
    call_.payload = by_two.SerializeAsString();
    call_.budget_ms = 1000;
  }

  type_registry types_;
  wire_call call_;
};

TEST_F(DecodeCall, WellFormedCallYieldsTheRequestParsedAsTheHandlersType) {
  auto request = decode_call(types_, call_, "n1");
  ASSERT_TRUE(request) << message_of(request.error());
  ASSERT_EQ((*request)->GetDescriptor(), builtin::Increment::descriptor());
  EXPECT_EQ(static_cast<const builtin::Increment&>(**request).by(), 2);
}

TEST_F(DecodeCall, KeyThatIsNotUtf8IsBadPayload) {
  call_.target_key = "a\xff";
  auto request = decode_call(types_, call_, "n1");
  ASSERT_FALSE(request);
  EXPECT_EQ(code_of(request.error()), errc::bad_payload);
}

TEST_F(DecodeCall, UnknownTypeAndUnknownMessageKeepTheirCodes) {
  call_.target_type = "ghost";
  auto no_type = decode_call(types_, call_, "n1");
  ASSERT_FALSE(no_type);
  EXPECT_EQ(code_of(no_type.error()), errc::unknown_actor_type);
  call_.target_type = "counter";
  call_.message_type = "Decrement";
  auto no_handler = decode_call(types_, call_, "n1");
  ASSERT_FALSE(no_handler);
  EXPECT_EQ(code_of(no_handler.error()), errc::unknown_message);
}

TEST_F(DecodeCall, PayloadThatDoesNotParseIsBadPayloadNamingTheMessage) {
  call_.payload = "\x08";  // field 1, varint, and no varint after it
  auto request = decode_call(types_, call_, "n1");
  ASSERT_FALSE(request);
  EXPECT_EQ(code_of(request.error()), errc::bad_payload);
  EXPECT_NE(message_of(request.error()).find("Increment"), std::string::npos);
}

TEST_F(DecodeCall, CallWithoutTimeLeftTimesOutButATellIsTaken) {
  call_.budget_ms = 0;
  auto late = decode_call(types_, call_, "n1");
  ASSERT_FALSE(late);
  EXPECT_EQ(code_of(late.error()), errc::timeout);
  EXPECT_NE(message_of(late.error()).find("n1"), std::string::npos);
  call_.one_way = true;
  EXPECT_TRUE(decode_call(types_, call_, "n1"));
}

TEST_F(DecodeCall, HeldReminderIsParsedAsReminderFiredWithoutAHandler) {
  keel::runtime::ReminderFired fired;
  fired.set_name("tick");
  call_.message_type = "$reminder";
  call_.payload = fired.SerializeAsString();
  auto request = decode_call(types_, call_, "n1");
  ASSERT_TRUE(request) << message_of(request.error());
  ASSERT_EQ((*request)->GetDescriptor(), keel::runtime::ReminderFired::descriptor());
  EXPECT_EQ(static_cast<const keel::runtime::ReminderFired&>(**request).name(), "tick");
}

TEST(ChunkMalformation, ChunkInsideItsPartitionIsWellFormed) {
  wire_chunk chunk;
  chunk.partition = 7;
  chunk.keys = {partition_range(7) + "k"};
  chunk.values = {"v"};
  EXPECT_EQ(chunk_malformation(chunk), "");
}

TEST(ChunkMalformation, UnpairedKeysOutsideKeysAndNoSuchPartitionAreMalformed) {
  wire_chunk chunk;
  chunk.partition = 7;
  chunk.keys = {partition_range(7) + "k"};
  EXPECT_NE(chunk_malformation(chunk), "");  // a key without a value
  chunk.values = {"v"};
  chunk.keys = {partition_range(8) + "k"};
  EXPECT_NE(chunk_malformation(chunk).find("outside"), std::string::npos);
  chunk.partition = partition_count;
  chunk.keys.clear();
  chunk.values.clear();
  EXPECT_NE(chunk_malformation(chunk), "");
}

}  // namespace
}  // namespace keel::cluster
