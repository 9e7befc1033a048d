// keel-node as a process: help, bad flags, environment variables, what it costs when idle.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <httplib.h>

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
                    "--listen-host",
                    "--slow-request",
                    "--data-dir",
                    "--etcd",
                    "--cluster-name",
                    "--replication-factor",
                    "--min-insync",
                    "--replica-timeout",
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

// Bound to every address, advertised as one: reachable on another loopback address too,
// and clients are told the advertised one. Bound to the advertised address alone (the
// default), the other address is refused.
TEST(NodeCli, ListenHostIsBoundAndAdvertiseHostIsTold) {
  temp_dir dir;
  {
    node_process node{dir.sub("data"), {"--listen-host=0.0.0.0", "--advertise-host=127.0.0.1"}};
    httplib::Client other{"127.0.0.2", node.port()};
    auto res = other.Get("/healthz");
    ASSERT_TRUE(res) << "127.0.0.2 refused though the node binds 0.0.0.0";
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(node.get("/v1/cluster")
                  .body.find(R"("httpAddress":"127.0.0.1:)" + std::to_string(node.port()) + R"(")"),
              std::string::npos)
        << node.get("/v1/cluster").body;
  }
  node_process node{dir.sub("data")};
  httplib::Client other{"127.0.0.2", node.port()};
  other.set_connection_timeout(std::chrono::seconds{2});
  EXPECT_FALSE(other.Get("/healthz")) << "bound to 127.0.0.1 only, yet 127.0.0.2 answered";
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--advertise-host=0.0.0.0"}, out), 2) << out;
  EXPECT_NE(out.find("--listen-host"), std::string::npos) << out;
}

// A node id goes into etcd keys, log lines, metric labels and response headers: one that
// could break any of them is refused at start, saying what an id may hold.
TEST(NodeCli, NodeIdThatCouldBreakAKeyOrAHeaderIsRefused) {
  for (const std::string& bad :
       std::vector<std::string>{"n1\r\nX-Injected: 1", "a/b", "", std::string(65, 'n')}) {
    std::string out;
    EXPECT_EQ(run_node_to_exit({"--node-id=" + bad}, out), 2) << bad << ": " << out;
    // An empty one is refused by the flag parser before the check: "--node-id: ... missing".
    if (!bad.empty()) {
      EXPECT_NE(out.find("1-64 letters, digits"), std::string::npos) << out;
    }
  }
}

// A request open past --slow-request is logged once while it is still open: its message,
// how long, the chain of actors it waits on, and its trace id to look it up by.
TEST(NodeCli, SlowRequestIsLoggedOnceWithItsTraceAndTheActorsItWaitsOn) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--test-actors", "--slow-request=100ms"}};
  const std::string trace = "6bf92f3577b34da6a3ce929d0e0e4739";
  auto reply = node.post("/v1/actors/relay/r1/Relay",
                         R"({"targetType":"slow","targetKey":"s1","sleepMs":400})",
                         {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(node.post("/v1/actors/counter/quick/Increment", R"({"by":1})").status, 200);
  auto log = node.log();
  std::regex line{"slow request: Relay open [0-9]+ ms, waiting on relay/r1 -> slow/s1; trace " +
                  trace};
  auto lines = std::distance(std::sregex_iterator(log.begin(), log.end(), line), {});
  EXPECT_EQ(lines, 1) << log;
  EXPECT_EQ(log.find("slow request: Increment"), std::string::npos) << log;
}

TEST(NodeCli, BadEnvironmentValueExitsNonZero) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({}, out, {{"KEEL_MAX_INFLIGHT", "-3"}}), 2) << out;
  EXPECT_NE(out.find("--max-inflight"), std::string::npos) << out;
}

// The LevelDB files that hold records, with their sizes.
std::map<std::string, uintmax_t> record_files_of(const std::string& dir) {
  std::map<std::string, uintmax_t> out;
  for (const auto& entry : std::filesystem::directory_iterator{dir}) {
    auto name = entry.path().filename().string();
    if (name.starts_with("MANIFEST-") || name.ends_with(".log") || name.ends_with(".ldb") ||
        name.ends_with(".sst"))
      out[name] = entry.file_size();
  }
  return out;
}

// Runs keel-node on `data_dir` until it exits by itself (≤ 10 s; killed if it serves
// instead); its exit status, with stdout + stderr in `output`.
int start_node_expecting_exit(const temp_dir& dir, const std::string& data_dir,
                              std::string& output) {
  auto out_path = dir.sub("refused.out");
  pid_t pid = spawn_process(KEEL_NODE_BINARY, {"--http-port=0", "--data-dir=" + data_dir}, {},
                            out_path, out_path + ".err");
  int rc = wait_process_exit(pid, std::chrono::seconds{10});
  if (rc < 0) {
    kill(pid, SIGKILL);
    wait_process_exit(pid, std::chrono::seconds{5});
  }
  std::ifstream out{out_path}, err{out_path + ".err"};
  output = std::string{std::istreambuf_iterator<char>{out}, {}} +
           std::string{std::istreambuf_iterator<char>{err}, {}};
  return rc;
}

// LevelDB, asked to create a database where it finds no CURRENT, makes a new one over the
// old files and deletes them: the node would have served every actor empty.
TEST(NodeCli, ADataDirThatLostItsCurrentFileIsRefusedWithExitOneAndKeptIntact) {
  temp_dir dir;
  auto data = dir.sub("data");
  for (auto by : {"5", "7"}) {  // two runs: the second turns the first one's log into a table
    node_process node{data};
    ASSERT_EQ(
        node.post("/v1/actors/counter/kept/Increment", R"({"by":)" + std::string{by} + "}").status,
        200);
    ASSERT_EQ(node.stop(SIGTERM), 0);
  }
  std::string current;
  std::getline(std::ifstream{data + "/CURRENT"}, current);
  ASSERT_TRUE(std::filesystem::remove(data + "/CURRENT"));
  auto before = record_files_of(data);
  ASSERT_TRUE(std::ranges::any_of(before, [](auto& f) { return f.first.ends_with(".ldb"); }));
  ASSERT_TRUE(std::ranges::any_of(before, [](auto& f) { return f.first.ends_with(".log"); }));

  std::string out;
  EXPECT_EQ(start_node_expecting_exit(dir, data, out), 1) << out;
  EXPECT_NE(out.find("keel-node: data dir " + data + " holds LevelDB files ("), std::string::npos)
      << out;
  EXPECT_NE(out.find("but no CURRENT: refusing to create a new database over it"),
            std::string::npos)
      << out;
  EXPECT_EQ(record_files_of(data), before);
  EXPECT_FALSE(std::filesystem::exists(data + "/CURRENT"));

  // The remedy docs/operations.md gives: CURRENT names the newest manifest.
  std::ofstream{data + "/CURRENT"} << current << "\n";
  node_process node{data};
  EXPECT_EQ(node.post("/v1/actors/counter/kept/Get", "").body, R"({"value":"12"})");
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

// Context switches, voluntary and not, of every thread of `pid` so far.
long thread_switches(pid_t pid) {
  long total = 0;
  for (const auto& task :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/task"}) {
    std::ifstream status{task.path() / "status"};
    for (std::string line; std::getline(status, line);)
      if (line.find("ctxt_switches:") != std::string::npos)
        total += std::stol(line.substr(line.find(':') + 1));
  }
  return total;
}

// A node with nothing to do must sleep: periodic work (the deadline sweep) once woke CAF's
// work-stealing workers every 10 ms, and they polled so long that an idle node burned a
// third of a core. Wake-ups are counted too: on a virtual machine a thread woken on an idle
// core costs ~15 us of CPU (keel-bench f), and the sweep as a detached actor with a delayed
// message woke threads ~600 times a second; on its own thread it wakes ~100 times.
TEST(NodeCli, IdleNodeUsesAlmostNoCpu) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  ASSERT_EQ(node.post("/v1/actors/counter/idle/Increment", R"({"by":1})").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto before = cpu_ticks(node.pid());
  auto switches_before = thread_switches(node.pid());
  std::this_thread::sleep_for(std::chrono::seconds{3});
  auto used = cpu_ticks(node.pid()) - before;
  auto switches = thread_switches(node.pid()) - switches_before;
  // 3 s of wall time; allow 3 % of one core, and 250 wake-ups a second.
  EXPECT_LE(used, sysconf(_SC_CLK_TCK) * 3 * 3 / 100) << used << " ticks in 3 s while idle";
  EXPECT_LE(switches, 3 * 250) << switches << " thread switches in 3 s while idle";
}

}  // namespace
}  // namespace keel::test
