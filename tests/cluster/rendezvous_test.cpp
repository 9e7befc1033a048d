#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "keel/cluster/membership.hpp"
#include "keel/runtime/actor_id.hpp"

namespace keel::cluster {
namespace {

std::map<std::string, int> shares(const std::vector<std::string>& nodes) {
  std::map<std::string, int> out;
  for (uint32_t p = 0; p < partition_count; ++p) ++out[membership::rendezvous_owner(p, nodes)];
  return out;
}

TEST(Rendezvous, EveryNodeGetsItsShareOfThePartitions) {
  for (const auto& nodes : std::vector<std::vector<std::string>>{
           {"n1", "n2", "n3"}, {"n1", "n2", "n3", "n4"}, {"a", "b"}, {"node-17", "node-18"}}) {
    auto got = shares(nodes);
    ASSERT_EQ(got.size(), nodes.size());
    const double fair = static_cast<double>(partition_count) / static_cast<double>(nodes.size());
    for (const auto& [node, n] : got) {
      EXPECT_GT(n, fair * 0.85) << node << " of " << nodes.size();
      EXPECT_LT(n, fair * 1.15) << node << " of " << nodes.size();
    }
  }
}

// What rendezvous hashing is for: a node joining takes ~1/N of the partitions, only from
// the others, and nothing else moves (issue 7 relies on it).
TEST(Rendezvous, AJoiningNodeTakesAboutItsShareAndNothingElseMoves) {
  std::vector<std::string> before{"n1", "n2", "n3"}, after{"n1", "n2", "n3", "n4"};
  int moved = 0;
  for (uint32_t p = 0; p < partition_count; ++p) {
    auto old_owner = membership::rendezvous_owner(p, before);
    auto new_owner = membership::rendezvous_owner(p, after);
    if (old_owner != new_owner) {
      ++moved;
      EXPECT_EQ(new_owner, "n4") << "partition " << p << " moved between old members";
    }
  }
  EXPECT_GT(moved, partition_count / 4 * 0.85);
  EXPECT_LT(moved, partition_count / 4 * 1.15);
}

TEST(Rendezvous, NoMembersNoOwner) { EXPECT_EQ(membership::rendezvous_owner(7, {}), ""); }

}  // namespace
}  // namespace keel::cluster
