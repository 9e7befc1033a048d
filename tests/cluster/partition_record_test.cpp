#include <string>

#include <gtest/gtest.h>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {
namespace {

// Records exactly as nodes that stored the state as a string wrote them to etcd.
constexpr const char* stored_active = R"({"owner":"n1","epoch":"3","state":"active"})";
constexpr const char* stored_moving = R"({"owner":"n1","epoch":"3","state":"moving","to":"n2"})";

TEST(PartitionRecordJson, ActiveRecordOfExistingClustersParsesAndPrintsBackIdentically) {
  auto rec = parse_partition_record(stored_active);
  ASSERT_TRUE(rec) << message_of(rec.error());
  EXPECT_EQ(rec->state(), PartitionRecord::active);
  EXPECT_EQ(rec->owner(), "n1");
  EXPECT_EQ(rec->epoch(), 3u);
  EXPECT_EQ(to_etcd_json(*rec), stored_active);
}

TEST(PartitionRecordJson, MovingRecordOfExistingClustersParsesAndPrintsBackIdentically) {
  auto rec = parse_partition_record(stored_moving);
  ASSERT_TRUE(rec) << message_of(rec.error());
  EXPECT_EQ(rec->state(), PartitionRecord::moving);
  EXPECT_EQ(rec->to(), "n2");
  EXPECT_EQ(to_etcd_json(*rec), stored_moving);
}

// `active` is the enum's zero value: a record built in code prints it all the same, so
// that nodes reading the state as a string still find "active".
TEST(PartitionRecordJson, NewActiveRecordPrintsItsStateByName) {
  PartitionRecord rec;
  rec.set_owner("n1");
  rec.set_epoch(3);
  rec.set_state(PartitionRecord::active);
  EXPECT_EQ(to_etcd_json(rec), stored_active);
}

TEST(PartitionRecordJson, UnknownStateIsRefusedNotReadAsActive) {
  auto rec = parse_partition_record(R"({"owner":"n1","epoch":"3","state":"leaving"})");
  ASSERT_FALSE(rec) << "parsed as " << to_etcd_json(*rec);
  EXPECT_EQ(code_of(rec.error()), errc::app_error);
  EXPECT_NE(message_of(rec.error()).find("leaving"), std::string::npos) << message_of(rec.error());
}

TEST(PartitionRecordJson, RecordWithoutStateIsRefused) {
  auto rec = parse_partition_record(R"({"owner":"n1","epoch":"3"})");
  ASSERT_FALSE(rec) << "parsed as " << to_etcd_json(*rec);
  EXPECT_EQ(code_of(rec.error()), errc::app_error);
}

TEST(PartitionView, PrintsTheStateByNameAsBefore) {
  auto active = parse_partition_record(stored_active);
  auto moving = parse_partition_record(stored_moving);
  ASSERT_TRUE(active && moving);
  EXPECT_EQ(partition_view(7, *active).state(), "active");
  auto row = partition_view(7, *moving);
  EXPECT_EQ(row.state(), "moving");
  EXPECT_EQ(row.partition(), 7u);
  EXPECT_EQ(row.owner(), "n1");
  EXPECT_EQ(row.epoch(), 3u);
  EXPECT_EQ(row.to(), "n2");
}

TEST(PartitionRecord, HeldOrReceivedByOwnerAndByTheNodeItMovesTo) {
  auto moving = parse_partition_record(stored_moving);
  ASSERT_TRUE(moving);
  EXPECT_TRUE(holds_or_receives(*moving, "n1"));
  EXPECT_TRUE(holds_or_receives(*moving, "n2"));
  EXPECT_FALSE(holds_or_receives(*moving, "n3"));
  auto active = parse_partition_record(stored_active);
  ASSERT_TRUE(active);
  EXPECT_FALSE(holds_or_receives(*active, "n2"));
}

}  // namespace
}  // namespace keel::cluster
