#include "keel/runtime/partition_key.hpp"

#include <vector>

#include <gtest/gtest.h>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"

namespace keel {
namespace {

// Type names are process-wide here: each test declares types no other test uses.

placement_key with_group(std::string_view key) noexcept {
  return {"pk_group", std::string{key.substr(0, key.find('.'))}};
}

placement_key other_group(std::string_view key) noexcept {
  return {"pk_other", std::string{key}};
}

TEST(PartitionKey, ActorsOfADeclaringTypeLiveInTheirGroupsPartition) {
  ASSERT_FALSE(partition_keys::declare("pk_member", {"test.group.v1", with_group}));
  actor_id group{"pk_group", "g7"};
  // Two members of one group share its partition, whatever else their keys hold.
  EXPECT_EQ(actor_id("pk_member", "g7.alpha").partition(), group.partition());
  EXPECT_EQ(actor_id("pk_member", "g7.beta").partition(), group.partition());
  // The id itself stays: placement changes the partition, not the identity.
  EXPECT_NE(actor_id("pk_member", "g7.alpha"), actor_id("pk_member", "g7.beta"));
  EXPECT_EQ(partition_keys::placement_of("pk_member", "g7.alpha").type, "pk_group");
  EXPECT_EQ(partition_keys::placement_of("pk_member", "g7.alpha").key, "g7");
}

TEST(PartitionKey, ATypeWithoutOneIsPlacedByItsOwnId) {
  actor_id id{"pk_plain", "k1"};
  EXPECT_EQ(id.partition(), actor_id::hash_of("pk_plain", "k1") % partition_count);
  EXPECT_FALSE(partition_keys::find("pk_plain"));
  auto placed = partition_keys::placement_of("pk_plain", "k1");
  EXPECT_EQ(placed.type, "pk_plain");
  EXPECT_EQ(placed.key, "k1");
}

TEST(PartitionKey, AnotherNameForADeclaredTypeIsAConflictAndTheFirstStays) {
  ASSERT_FALSE(partition_keys::declare("pk_twice", {"test.twice.v1", with_group}));
  EXPECT_FALSE(partition_keys::declare("pk_twice", {"test.twice.v1", with_group}));
  auto err = partition_keys::declare("pk_twice", {"test.twice.v2", other_group});
  EXPECT_EQ(code_of(err), errc::conflict);
  EXPECT_EQ(partition_keys::find("pk_twice")->name, "test.twice.v1");
  EXPECT_EQ(actor_id("pk_twice", "g1.x").partition(), actor_id("pk_group", "g1").partition());
}

TEST(PartitionKey, ADeclarationNeedsAFunctionAndItsOwnName) {
  EXPECT_EQ(code_of(partition_keys::declare("pk_bad", {"test.bad.v1", nullptr})),
            errc::bad_payload);
  EXPECT_EQ(code_of(partition_keys::declare("pk_bad", {"", with_group})), errc::bad_payload);
  EXPECT_EQ(code_of(partition_keys::declare("pk_bad", {"id", with_group})), errc::bad_payload);
  EXPECT_FALSE(partition_keys::find("pk_bad"));
}

TEST(PartitionKey, AnIdReadFromTheWireIsPlacedAsTheSendersWas) {
  ASSERT_FALSE(partition_keys::declare("pk_wire", {"test.wire.v1", with_group}));
  actor_id sent{"pk_wire", "g3.z"};
  std::vector<char> bytes;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), bytes};
  ASSERT_FALSE(sink(sent));
  actor_id received;
  caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr), bytes};
  ASSERT_FALSE(source(received));
  EXPECT_EQ(received, sent);
  EXPECT_EQ(received.partition(), actor_id("pk_group", "g3").partition());
  // A default id (empty type and key) is placed by itself, as before any declaration.
  EXPECT_EQ(actor_id{}.partition(), actor_id::hash_of("", "") % partition_count);
}

}  // namespace
}  // namespace keel
