// (g) rebalancing: one keel-node holds many counters; a second one joins and half of them
// move to it while clients keep incrementing through the first. Reports how long the move
// took, actors moved per second, and the requests served meanwhile against the same
// clients' rate just before the join.
#include "rebalance_bench.hpp"

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include "child_process.hpp"
#include "http_client.hpp"
#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/actor_id.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Empty if the increment was acknowledged, else why not.
std::string increment(httplib::Client& cli, int key) {
  auto res = cli.Post("/v1/actors/counter/k" + std::to_string(key) + "/Increment", R"({"by":1})",
                      "application/json");
  if (!res) return "no answer: " + httplib::to_string(res.error());
  return res->status == 200 ? std::string{} : std::to_string(res->status) + " " + res->body;
}

// Clients incrementing random counters through one node until stopped; counts answers.
class load {
 public:
  load(int port, int counters) {
    for (int t = 0; t < 4; ++t)
      threads_.emplace_back([this, port, counters, t] {
        auto cli = client_for(port);
        std::mt19937 rng{static_cast<unsigned>(t)};
        while (!stop_.load()) {
          auto why = increment(*cli, static_cast<int>(rng() % static_cast<unsigned>(counters)));
          if (why.empty()) {
            ok_.fetch_add(1);
          } else if (failed_.fetch_add(1) == 0) {
            std::lock_guard lock{mutex_};
            first_failure_ = why;
          }
        }
      });
  }
  ~load() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  int64_t ok() const { return ok_.load(); }
  int64_t failed() const { return failed_.load(); }
  std::string first_failure() {
    std::lock_guard lock{mutex_};
    return first_failure_;
  }

 private:
  std::mutex mutex_;
  std::string first_failure_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
  std::vector<std::thread> threads_;
};

// Whether every placed partition is active on its rendezvous owner among `owners`. Reads
// the (small) cluster view first: the table's JSON costs the node real CPU, so it is read
// only once the coordinator reports its rebalance finished.
bool balanced(httplib::Client& cli, const std::vector<std::string>& owners) {
  auto view = cli.Get("/v1/cluster");
  cluster::ClusterView cluster;
  if (!view || view->status != 200 ||
      !google::protobuf::util::JsonStringToMessage(view->body, &cluster).ok() ||
      cluster.rebalance().running() || cluster.rebalance().planned() == 0)
    return false;
  auto res = cli.Get("/v1/cluster/partitions");
  if (!res || res->status != 200) return false;
  cluster::PartitionTableView table;
  if (!google::protobuf::util::JsonStringToMessage(res->body, &table).ok()) return false;
  for (const auto& row : table.partitions())
    if (row.state() != "active" ||
        row.owner() != cluster::membership::rendezvous_owner(row.partition(), owners))
      return false;
  return table.placed() > 0;
}

}  // namespace

void bench_rebalance(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  // Exactly 100,000 actors (10,000 with --quick) move: as many counters k0, k1, ... as it
  // takes for that many to have n2 as their partition's rendezvous owner.
  const int to_move = cfg.quick ? 10000 : 100000;
  auto moves = [](int k) {
    return cluster::membership::rendezvous_owner(
               actor_id{"counter", "k" + std::to_string(k)}.partition(), {"n1", "n2"}) == "n2";
  };
  int counters = 0;
  for (int moving = 0; moving < to_move; ++counters) moving += moves(counters);
  prog.step(
      fmt::format("(g) rebalance: {} counters on one node, a second joins under load and "
                  "{} of them move",
                  counters, to_move));
  etcd_child etcd;
  auto node_args = [&](const std::string& id, const std::string& dir) {
    return std::vector<std::string>{"--node-id=" + id, "--etcd=" + etcd.endpoint(), "--http-port=0",
                                    "--cluster-port=0", "--data-dir=" + dir, "--log-level=warn",
                                    // The move alone: catching copies up is row j's.
                                    "--replication-factor=1"};
  };
  auto dir1 = scratch();
  server_process n1{cfg.bin_dir + "/keel-node", node_args("n1", dir1)};
  {
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
      writers.emplace_back([&] {
        auto cli = client_for(n1.port());
        for (int k = next++; k < counters; k = next++)
          if (!increment(*cli, k).empty()) failed.fetch_add(1);
      });
    for (auto& w : writers) w.join();
    if (failed > 0) throw std::runtime_error(fmt::format("{} seeding increments failed", failed));
  }
  prog.note(fmt::format("{} counters written on n1", counters));
  auto watcher = client_for(n1.port());
  int64_t before_ok = 0;
  double before_rate = 0;
  double move_s = 0;
  double during_rate = 0;
  double after_rate = 0;
  int64_t failed = 0;
  std::string first_failure;
  auto dir2 = scratch();
  {
    load clients{n1.port(), counters};
    std::this_thread::sleep_for(1s);  // warm: connections, activations
    auto t0 = clock_type::now();
    before_ok = clients.ok();
    std::this_thread::sleep_for(cfg.quick ? 2s : 4s);
    before_rate = static_cast<double>(clients.ok() - before_ok) /
                  std::chrono::duration<double>(clock_type::now() - t0).count();
    auto joined = clock_type::now();
    auto ok_at_join = clients.ok();
    server_process n2{cfg.bin_dir + "/keel-node", node_args("n2", dir2)};
    while (!balanced(*watcher, {"n1", "n2"})) {
      if (clock_type::now() - joined > 600s) throw std::runtime_error("the move did not end");
      std::this_thread::sleep_for(100ms);
    }
    auto moved_at = clock_type::now();
    move_s = std::chrono::duration<double>(moved_at - joined).count();
    during_rate = static_cast<double>(clients.ok() - ok_at_join) / move_s;
    // The same clients once both nodes serve: half the calls now cross to n2, so this, not
    // only `before`, is what the move itself should be compared with.
    auto ok_after = clients.ok();
    std::this_thread::sleep_for(cfg.quick ? 2s : 4s);
    after_rate = static_cast<double>(clients.ok() - ok_after) /
                 std::chrono::duration<double>(clock_type::now() - moved_at).count();
    failed = clients.failed();
    first_failure = clients.first_failure();
    n2.kill_now();
  }
  n1.kill_now();
  const int moved = to_move;
  prog.note(fmt::format(
      "{} actors moved in {:.2f} s; {:.0f} req/s before, {:.0f} during, {:.0f} after; {} failed",
      moved, move_s, before_rate, during_rate, after_rate, failed));
  if (failed > 0)
    throw std::runtime_error(
        fmt::format("{} requests failed during the move; the first: {}", failed, first_failure));
  out.push_back({fmt::format("g. join: time to move {} actors' state", moved), move_s, "s", 0, 0,
                 std::nullopt});
  out.push_back(
      {"g. join: actors moved per second", moved / move_s, "actors/s", 0, 0, std::nullopt});
  out.push_back({"g. join: increments/s served during the move vs before", during_rate, "req/s",
                 before_rate, during_rate / before_rate, std::nullopt});
  out.push_back({"g. join: increments/s during the move vs after it (2 nodes)", during_rate,
                 "req/s", after_rate, during_rate / after_rate, std::nullopt});
  std::system(("rm -rf " + dir1 + " " + dir2).c_str());
}

}  // namespace keel::bench
