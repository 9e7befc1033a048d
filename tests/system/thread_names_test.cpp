// Keel's own threads carry their role as their name (keel.<role>), as `top -H`, `ps -L`
// and gdb show them: docs/architecture.md "Threads".
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace keel::test {
namespace {

// The names of every thread of `pid` now.
std::multiset<std::string> thread_names(pid_t pid) {
  std::multiset<std::string> names;
  for (const auto& task :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/task"}) {
    std::ifstream comm{task.path() / "comm"};
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

TEST(ThreadNames, ASingleNodeNamesItsSweeperAndItsStoreThreads) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  auto names = thread_names(node.pid());
  EXPECT_EQ(names.count("keel.sweeper"), 1u);
  EXPECT_EQ(names.count("keel.writer"), 1u);
  EXPECT_EQ(names.count("keel.reader"), 2u);
}

TEST_F(Cluster, AClusterNodeNamesItsMembershipThreadsToo) {
  auto [n1, n2] = start_pair();
  auto names = thread_names(n1.pid());
  for (const char* role :
       {"keel.sweeper", "keel.writer", "keel.placer", "keel.lease", "keel.watch", "keel.handoff"})
    EXPECT_GE(names.count(role), 1u) << role;
}

}  // namespace
}  // namespace keel::test
