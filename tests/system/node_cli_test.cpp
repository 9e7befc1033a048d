// keel-node's command line: help, bad flags, environment variables.
#include <gtest/gtest.h>

#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

TEST(NodeCli, HelpListsEveryFlagWithDefaultsAndExitsZero) {
  std::string out;
  ASSERT_EQ(run_node_to_exit({"--help"}, out), 0);
  for (auto flag : {"--node-id",         "--http-port",          "--cluster-port",
                    "--advertise-host",  "--data-dir",           "--etcd",
                    "--cluster-name",    "--replication-factor", "--api-keys-file",
                    "--request-timeout", "--idle-timeout",       "--sync",
                    "--max-inflight",    "--max-body",           "--threads",
                    "--lease-ttl",       "--rate-limit",         "--payment-failure-rate",
                    "--payment-latency", "--test-actors"})
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

}  // namespace
}  // namespace keel::test
