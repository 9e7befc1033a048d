// A child keel-node is killed with SIGKILL while writes are in flight, then restarted on
// the same data dir: every acknowledged write must be there.
#include <signal.h>

#include <atomic>
#include <memory>
#include <regex>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include "keel/runtime/storage_keys.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

int64_t value_of(const http_reply& r) {
  static const std::regex value{R"re("value":"?(-?\d+)"?)re"};
  std::smatch m;
  if (!std::regex_search(r.body, m, value)) return -1;
  return std::stoll(m[1]);
}

size_t count_of(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A record written by a build that stored an ill-formed string, or damaged on disk: the
// actor cannot run, and the operator must hear of it once, with what to do.
TEST(Durability, AStoredStateThatDoesNotParseIs503NamingTheRemedyAndLoggedOnce) {
  temp_dir dir;
  {
    node_process node{dir.sub("data")};
    ASSERT_EQ(node.post("/v1/actors/counter/broken/Increment", R"({"by":3})").status, 200);
    ASSERT_EQ(node.post("/v1/actors/counter/canary/Increment", R"({"by":4})").status, 200);
    ASSERT_EQ(node.stop(SIGTERM), 0);
  }
  auto key = state_key(actor_id{"counter", "broken"});
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options{}, dir.sub("data"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    // Field 1 as a varint whose continuation never ends: no protobuf parser takes it.
    ASSERT_TRUE(db->Put({}, key, encode_versioned(1, "\x08\xff\xff")).ok());
  }
  const std::string refused =
      R"x({"error":{"code":"unavailable","message":"state of counter/broken cannot be )x"
      R"x(loaded: its stored state (version 1) does not parse as keel.builtin.CounterState; )x"
      R"x(the node's log has the record's key (docs/operations.md, \"Unreadable state\")"}})x";
  node_process node{dir.sub("data")};
  for (int i = 0; i < 3; ++i) {
    auto r = node.post("/v1/actors/counter/broken/Get", "");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.body, refused);
  }
  // Nothing but that actor is affected.
  EXPECT_EQ(node.post("/v1/actors/counter/canary/Get", "").body, R"({"value":"4"})");
  auto log = node.log();
  EXPECT_EQ(count_of(log, "[error]"), 1u) << log;
  EXPECT_EQ(count_of(log,
                     "the state of counter/broken (version 1, 3 bytes) does not parse as "
                     "keel.builtin.CounterState"),
            1u)
      << log;
  std::string hex;
  for (unsigned char c : key) hex += fmt::format("{:02x}", c);
  EXPECT_NE(log.find("state key (hex) " + hex), std::string::npos) << log;
}

TEST(Durability, NothingAcknowledgedIsLostToSigkill) {
  temp_dir dir;
  constexpr int keys = 16;
  std::array<std::atomic<int64_t>, keys> acked{};
  {
    node_process node{dir.sub("data")};
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int k = 0; k < keys; ++k) {
      writers.emplace_back([&, k] {
        // Sequential per key: reply N means N increments committed for that key.
        for (int i = 0; i < 2000 && !stop; ++i) {
          auto r =
              node.post("/v1/actors/counter/d" + std::to_string(k) + "/Increment", R"({"by":1})");
          if (r.status != 200) return;
          acked[k] = value_of(r);
        }
      });
    }
    // Let a few hundred writes land, then kill mid-stream.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (acked[0] < 50 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    EXPECT_EQ(node.stop(SIGKILL), 128 + SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();
  }
  node_process again{dir.sub("data")};
  int64_t total_acked = 0;
  for (int k = 0; k < keys; ++k) {
    auto r = again.post("/v1/actors/counter/d" + std::to_string(k) + "/Get", "");
    ASSERT_EQ(r.status, 200) << r.body;
    auto v = value_of(r);
    // Every acknowledged increment survived; at most the one in flight when the node died
    // may also have committed without its reply reaching us.
    EXPECT_GE(v, acked[k].load()) << "key d" << k;
    EXPECT_LE(v, acked[k].load() + 1) << "key d" << k;
    total_acked += acked[k];
  }
  EXPECT_GT(total_acked, 50);
}

TEST(Durability, GroupCommitPutsConcurrentTurnsInOneSync) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  constexpr int clients = 32;
  constexpr int per_client = 40;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i)
        if (node.post("/v1/actors/counter/g" + std::to_string(c) + "/Increment", R"({"by":1})")
                .status == 200)
          ++ok;
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(ok.load(), clients * per_client);
  auto text = node.get("/metrics").body;
  ASSERT_NE(text.find("keel_commit_writes_total"), std::string::npos) << text;
  auto writes = metric_value(text, "keel_commit_writes_total");
  auto batches = metric_value(text, "keel_commit_batches_total");
  EXPECT_EQ(writes, static_cast<uint64_t>(clients * per_client));
  // 32 clients in flight: a sync should carry several turns, not one each.
  EXPECT_LT(batches * 2, writes) << "batches=" << batches << " writes=" << writes;
}

TEST(Durability, SigtermExitsCleanlyAndKeepsState) {
  temp_dir dir;
  {
    node_process node{dir.sub("data")};
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(node.post("/v1/actors/counter/t/Increment", R"({"by":3})").status, 200);
    EXPECT_EQ(node.stop(SIGTERM), 0) << node.log();
  }
  node_process again{dir.sub("data")};
  auto r = again.post("/v1/actors/counter/t/Get", "{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"value":"15"})");
}

}  // namespace
}  // namespace keel::test
