// keel-node as a process: help, bad flags, environment variables, what it costs when idle.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

TEST(NodeCli, HelpListsEveryFlagWithDefaultsAndExitsZero) {
  std::string out;
  ASSERT_EQ(run_node_to_exit({"--help"}, out), 0);
  for (auto flag : {"--node-id",
                    "--http-port",
                    "--cluster-port",
                    "--advertise-host",
                    "--data-dir",
                    "--etcd",
                    "--cluster-name",
                    "--replication-factor",
                    "--api-keys-file",
                    "--request-timeout",
                    "--idle-timeout",
                    "--sync",
                    "--max-inflight",
                    "--max-body",
                    "--threads",
                    "--http-threads",
                    "--lease-ttl",
                    "--rate-limit",
                    "--payment-failure-rate",
                    "--payment-latency",
                    "--test-actors"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  EXPECT_NE(out.find("KEEL_HTTP_PORT"), std::string::npos);
  EXPECT_NE(out.find("=8080"), std::string::npos);
}

TEST(NodeCli, UnknownFlagExitsNonZeroNamingIt) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--no-such-flag"}, out), 2);
  EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << out;
}

TEST(NodeCli, BadValuesExitNonZeroNamingTheFlag) {
  for (auto [arg, flag] :
       std::vector<std::pair<std::string, std::string>>{{"--http-port=abc", "--http-port"},
                                                        {"--idle-timeout=5x", "--idle-timeout"},
                                                        {"--max-body=lots", "--max-body"},
                                                        {"--sync=sometimes", "--sync"}}) {
    std::string out;
    EXPECT_EQ(run_node_to_exit({arg}, out), 2) << arg;
    EXPECT_NE(out.find(flag), std::string::npos) << arg << ": " << out;
  }
}

TEST(NodeCli, EnvironmentVariablesSetFlagsAndTheCommandLineWins) {
  temp_dir dir;
  {
    node_process node{dir.sub("data"), {}, {{"KEEL_NODE_ID", "from-env"}}};
    EXPECT_NE(node.get("/v1/actors/counter/a").body.find(R"("node":"from-env")"),
              std::string::npos);
  }
  node_process node{dir.sub("data"), {"--node-id=from-flag"}, {{"KEEL_NODE_ID", "from-env"}}};
  EXPECT_NE(node.get("/v1/actors/counter/a").body.find(R"("node":"from-flag")"), std::string::npos);
}

TEST(NodeCli, BadEnvironmentValueExitsNonZero) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({}, out, {{"KEEL_MAX_INFLIGHT", "-3"}}), 2) << out;
  EXPECT_NE(out.find("--max-inflight"), std::string::npos) << out;
}

// utime + stime of `pid` in clock ticks (proc(5) fields 14 and 15).
long cpu_ticks(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  std::istringstream fields{stat.substr(stat.rfind(')') + 2)};  // skip "pid (comm) "
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// A node with nothing to do must sleep: periodic work (the deadline sweep) once woke CAF's
// work-stealing workers every 10 ms, and they polled so long that an idle node burned a
// third of a core.
TEST(NodeCli, IdleNodeUsesAlmostNoCpu) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  ASSERT_EQ(node.post("/v1/actors/counter/idle/Increment", R"({"by":1})").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto before = cpu_ticks(node.pid());
  std::this_thread::sleep_for(std::chrono::seconds{3});
  auto used = cpu_ticks(node.pid()) - before;
  // 3 s of wall time; allow 3 % of one core.
  EXPECT_LE(used, sysconf(_SC_CLK_TCK) * 3 * 3 / 100) << used << " ticks in 3 s while idle";
}

}  // namespace
}  // namespace keel::test
