// (j) replication: what the output gate costs, and how fast a dead owner is replaced.
#include "replication_bench.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include "child_process.hpp"
#include "http_client.hpp"
#include "keel/cluster/cluster.pb.h"
#include "keel/runtime/actor_id.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

bool increment(httplib::Client& cli, const std::string& key) {
  auto res =
      cli.Post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})", "application/json");
  return res && res->status == 200;
}

double percentile(std::vector<double> xs, double q) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

std::vector<std::string> node_args(const etcd_child& etcd, const std::string& id,
                                   const std::string& dir, int copies) {
  return {"--node-id=" + id,   "--etcd=" + etcd.endpoint(),
          "--http-port=0",     "--cluster-port=0",
          "--data-dir=" + dir, "--replication-factor=" + std::to_string(copies),
          "--log-level=warn",  "--lease-ttl=2s"};
}

// At info level: a slow failover's logs say why (keep_logs).
std::vector<std::string> failover_args(const etcd_child& etcd, const std::string& id,
                                       const std::string& dir) {
  auto args = node_args(etcd, id, dir, 2);
  std::replace(args.begin(), args.end(), std::string{"--log-level=warn"},
               std::string{"--log-level=info"});
  return args;
}

struct load_result {
  double rate = 0;  // acknowledged increments per second
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t failed = 0;
};

// 64 clients, half through each node, increment random counters of 2,000 for `measure`
// after a second's warm-up (which also places the partitions).
load_result durable_load(const std::vector<int>& ports, std::chrono::milliseconds measure) {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failed{0};
  std::mutex mutex;
  std::vector<double> latencies_ms;  // guarded by mutex
  std::vector<std::thread> clients;
  for (int t = 0; t < 64; ++t)
    clients.emplace_back([&, t] {
      auto cli = client_for(ports[static_cast<size_t>(t) % ports.size()]);
      std::mt19937 rng{static_cast<unsigned>(t)};
      std::vector<double> mine;
      while (!stop.load()) {
        auto key = "c" + std::to_string(rng() % 2000);
        auto sent = clock_type::now();
        bool ok = increment(*cli, key);
        if (!measuring.load()) continue;
        if (!ok) failed.fetch_add(1);
        mine.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - sent).count());
      }
      std::lock_guard lock{mutex};
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  std::this_thread::sleep_for(1s);
  measuring = true;
  auto started = clock_type::now();
  std::this_thread::sleep_for(measure);
  measuring = false;
  auto seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  stop = true;
  for (auto& c : clients) c.join();
  load_result r;
  r.failed = failed.load();
  r.rate = static_cast<double>(static_cast<int64_t>(latencies_ms.size()) - r.failed) / seconds;
  r.p50_ms = percentile(latencies_ms, 0.50);
  r.p99_ms = percentile(latencies_ms, 0.99);
  return r;
}

load_result two_node_cluster(const bench_config& cfg, int copies) {
  etcd_child etcd;
  auto d1 = scratch();
  auto d2 = scratch();
  load_result r;
  {
    server_process n1{cfg.bin_dir + "/keel-node", node_args(etcd, "n1", d1, copies)};
    server_process n2{cfg.bin_dir + "/keel-node", node_args(etcd, "n2", d2, copies)};
    std::this_thread::sleep_for(1s);  // both members, a coordinator
    r = durable_load({n1.port(), n2.port()}, cfg.quick ? 2s : 5s);
    n1.kill_now();
    n2.kill_now();
  }
  std::system(("rm -rf " + d1 + " " + d2).c_str());
  return r;
}

// The node the table gives `key`'s partition to, as `cli`'s node sees it.
std::string owner_of(httplib::Client& cli, const std::string& key) {
  auto res = cli.Get("/v1/actors/counter/" + key);
  cluster::ActorLocation where;
  if (!res || res->status != 200 ||
      !google::protobuf::util::JsonStringToMessage(res->body, &where).ok())
    return {};
  return where.node();
}

// Whether `cli`'s node sees every one of `ids` up and linked, no rebalance running, every placed
// partition with its replica in sync: in a cluster where every node says so, a death is seen
// at once, and the next owner can be killed.
bool steady(httplib::Client& cli, size_t members) {
  auto view = cli.Get("/v1/cluster");
  cluster::ClusterView cluster;
  if (!view || view->status != 200 ||
      !google::protobuf::util::JsonStringToMessage(view->body, &cluster).ok() ||
      cluster.rebalance().running())
    return false;
  size_t up = 0, linked = 0;
  for (const auto& m : cluster.members()) {
    up += m.status() == "up";
    linked += m.link() == "self" || m.link() == "connected";
  }
  // Linked too: a death is seen at once only by a link that had reached the node.
  if (up != members || linked != members) return false;
  auto res = cli.Get("/v1/cluster/partitions");
  cluster::PartitionTableView table;
  if (!res || res->status != 200 ||
      !google::protobuf::util::JsonStringToMessage(res->body, &table).ok())
    return false;
  for (const auto& row : table.partitions())
    if (row.state() != "active" || row.isr_size() != 1) return false;
  return true;
}

// A slow failover is explained by the survivors' logs: kept for a person to read.
void keep_logs(const std::map<std::string, std::unique_ptr<server_process>>& nodes, int kill,
               progress& prog) {
  auto kept = fmt::format("/tmp/keel-bench-failover-{}-{}", getpid(), kill);
  std::string copy = "mkdir -p " + kept;
  for (const auto& [id, node] : nodes)
    copy += " && cp " + node->dir() + "/err " + kept + "/" + id + " && cp " + node->dir() +
            "/out " + kept + "/" + id + ".out";
  if (std::system(copy.c_str()) == 0) prog.note("      the nodes' logs are kept in " + kept);
}

// How an owner fails in failover_times: it dies, or it hangs (SIGSTOP), and then it is
// replaced only once its lease lapses.
enum class owner_fault { kill, pause };

// Fails the owner of a counter `kills` times on a 3-node cluster with two copies, and
// measures from the fault to the counter's first acknowledged increment through another
// node. The victim comes back on its data dir before the next fault (a paused one is killed
// first: its partitions went to others).
std::vector<double> failover_times(const bench_config& cfg, progress& prog, int kills,
                                   owner_fault fault) {
  etcd_child etcd;
  std::map<std::string, std::string> dirs{{"n1", scratch()}, {"n2", scratch()}, {"n3", scratch()}};
  std::map<std::string, std::unique_ptr<server_process>> nodes;
  for (const auto& [id, dir] : dirs)
    nodes[id] =
        std::make_unique<server_process>(cfg.bin_dir + "/keel-node", failover_args(etcd, id, dir));
  std::vector<double> times_ms;
  for (int i = 0; i < kills; ++i) {
    auto key = "f" + std::to_string(i);
    auto via_id = std::string{"n1"};
    auto probe = client_for(nodes[via_id]->port());
    auto ready_by = clock_type::now() + 60s;
    auto all_steady = [&] {
      return std::all_of(nodes.begin(), nodes.end(), [](const auto& entry) {
        return steady(*client_for(entry.second->port()), 3);
      });
    };
    while (!(increment(*probe, key) && all_steady())) {
      if (clock_type::now() > ready_by) throw std::runtime_error("the cluster did not settle");
      std::this_thread::sleep_for(50ms);
    }
    auto victim = owner_of(*probe, key);
    if (victim == via_id) {
      via_id = "n2";
      probe = client_for(nodes[via_id]->port());
    }
    if (fault == owner_fault::kill)
      nodes[victim]->kill_now();
    else
      ::kill(nodes[victim]->pid(), SIGSTOP);
    auto killed = clock_type::now();
    while (!increment(*probe, key)) {
      if (clock_type::now() - killed > 30s)
        throw std::runtime_error(key + " was not served again within 30 s of its owner's death");
      std::this_thread::sleep_for(2ms);
    }
    times_ms.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - killed).count());
    prog.note(fmt::format("{} {} of {}: {}'s partition answered again after {:.0f} ms",
                          fault == owner_fault::kill ? "kill" : "pause", i + 1, kills, victim,
                          times_ms.back()));
    if (times_ms.back() > (fault == owner_fault::kill ? 1000 : 3000)) keep_logs(nodes, i + 1, prog);
    nodes[victim]->kill_now();  // a paused node, killed; SIGKILL ends a stopped process too
    nodes[victim] = std::make_unique<server_process>(cfg.bin_dir + "/keel-node",
                                                     failover_args(etcd, victim, dirs[victim]));
  }
  for (auto& [id, node] : nodes) node->kill_now();
  for (const auto& [id, dir] : dirs) std::system(("rm -rf " + dir).c_str());
  return times_ms;
}

struct catch_up_result {
  double seconds = 0;      // from the second node's start to every partition in sync
  double served_rate = 0;  // increments/s acknowledged by the first node meanwhile
  int64_t failed = 0;      // increments that failed meanwhile
  double p99_ms = 0;       // of those increments
  double max_ms = 0;
};

// Whether `cli`'s node reports every placed partition with all its copies in sync.
bool fully_copied(httplib::Client& cli, size_t members) {
  auto res = cli.Get("/v1/cluster");
  cluster::ClusterView view;
  if (!res || res->status != 200 ||
      !google::protobuf::util::JsonStringToMessage(res->body, &view).ok())
    return false;
  size_t up = 0;
  for (const auto& m : view.members()) up += m.status() == "up";
  return up == members && view.replication().under_replicated() == 0;
}

// A node of a two-copy cluster holds `actors` counters with no other member to copy
// them; a second node joins, and the first catches it up on every partition while eight
// clients go on incrementing through it.
catch_up_result catch_up(const bench_config& cfg, progress& prog, int actors) {
  etcd_child etcd;
  auto d1 = scratch();
  auto d2 = scratch();
  catch_up_result r;
  {
    server_process n1{cfg.bin_dir + "/keel-node", node_args(etcd, "n1", d1, 2)};
    std::vector<std::thread> fillers;
    std::atomic<int> next{0};
    for (int t = 0; t < 8; ++t)
      fillers.emplace_back([&] {
        auto cli = client_for(n1.port());
        for (int i = next++; i < actors; i = next++) increment(*cli, "c" + std::to_string(i));
      });
    for (auto& f : fillers) f.join();
    prog.note(fmt::format("{} counters on n1 alone; n2 joins", actors));
    std::atomic<bool> stop{false};
    std::atomic<int64_t> served{0}, failed{0};
    std::mutex mutex;
    std::vector<double> latencies_ms;  // guarded by mutex
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t)
      clients.emplace_back([&, t] {
        auto cli = client_for(n1.port());
        std::mt19937 rng{static_cast<unsigned>(t)};
        std::vector<double> mine;
        while (!stop.load()) {
          auto sent = clock_type::now();
          bool ok = increment(*cli, "c" + std::to_string(rng() % static_cast<unsigned>(actors)));
          mine.push_back(
              std::chrono::duration<double, std::milli>(clock_type::now() - sent).count());
          (ok ? served : failed).fetch_add(1);
        }
        std::lock_guard lock{mutex};
        latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
      });
    auto started = clock_type::now();
    server_process n2{cfg.bin_dir + "/keel-node", node_args(etcd, "n2", d2, 2)};
    auto probe = client_for(n1.port());
    while (!fully_copied(*probe, 2)) {
      if (clock_type::now() - started > 120s) throw std::runtime_error("n2 was not caught up");
      std::this_thread::sleep_for(20ms);
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - started).count();
    stop = true;
    for (auto& c : clients) c.join();
    r.served_rate = static_cast<double>(served.load()) / r.seconds;
    r.failed = failed.load();
    r.p99_ms = percentile(latencies_ms, 0.99);
    r.max_ms =
        latencies_ms.empty() ? 0 : *std::max_element(latencies_ms.begin(), latencies_ms.end());
    n1.kill_now();
    n2.kill_now();
  }
  std::system(("rm -rf " + d1 + " " + d2).c_str());
  return r;
}

}  // namespace

void bench_replication(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  prog.step("(j) replication: durable increments on 2 nodes with 2 copies vs 1, then failover");
  auto one = two_node_cluster(cfg, 1);
  auto two = two_node_cluster(cfg, 2);
  prog.note(fmt::format(
      "R=1: {:.0f}/s p50 {:.2f} ms p99 {:.2f} ms; R=2: {:.0f}/s p50 {:.2f} ms "
      "p99 {:.2f} ms; failed {} and {}",
      one.rate, one.p50_ms, one.p99_ms, two.rate, two.p50_ms, two.p99_ms, one.failed, two.failed));
  if (one.failed + two.failed > 0)
    throw std::runtime_error(fmt::format("{} increments failed", one.failed + two.failed));
  out.push_back({"j. durable increments/s, 2 nodes, 2 copies vs 1", two.rate, "req/s", one.rate,
                 two.rate / one.rate, 0.6});
  out.push_back({"j. p50 latency of an increment, 2 copies vs 1", two.p50_ms, "ms", one.p50_ms,
                 two.p50_ms / one.p50_ms, std::nullopt, true});
  out.push_back({"j. p99 latency of an increment, 2 copies vs 1", two.p99_ms, "ms", one.p99_ms,
                 two.p99_ms / one.p99_ms, std::nullopt, true});
  const int actors = cfg.quick ? 4000 : 20000;
  auto copied = catch_up(cfg, prog, actors);
  prog.note(fmt::format(
      "n2 caught up on {} counters in {:.2f} s; n1 served {:.0f}/s meanwhile, "
      "{} failed, p99 {:.1f} ms, slowest {:.0f} ms",
      actors, copied.seconds, copied.served_rate, copied.failed, copied.p99_ms, copied.max_ms));
  out.push_back({"j. catch-up of a new replica while serving", actors / copied.seconds, "actors/s",
                 0, 0, std::nullopt});
  out.push_back({"j. increments/s served during that catch-up", copied.served_rate, "req/s", 0, 0,
                 std::nullopt});
  out.push_back({"j. p99 latency of an increment during that catch-up", copied.p99_ms, "ms", 0, 0,
                 std::nullopt, true});
  out.push_back(
      {"j. slowest increment during that catch-up", copied.max_ms, "ms", 0, 0, std::nullopt, true});
  auto times = failover_times(cfg, prog, cfg.quick ? 5 : 20, owner_fault::kill);
  out.push_back({"j. failover: kill -9 of an owner to its partition answering, p50",
                 percentile(times, 0.5), "ms", 0, 0, std::nullopt, true});
  out.push_back(
      {"j. failover: p99 (target: 2,000 ms)", percentile(times, 0.99), "ms", 0, 0, 2000.0, true});
  out.push_back({"j. failover: max", *std::max_element(times.begin(), times.end()), "ms", 0, 0,
                 std::nullopt, true});
  // A hung owner is replaced once its lease (2 s) lapses: target TTL + 2 s.
  auto paused = failover_times(cfg, prog, cfg.quick ? 3 : 10, owner_fault::pause);
  out.push_back({"j. failover of a SIGSTOPped owner, p50", percentile(paused, 0.5), "ms", 0, 0,
                 std::nullopt, true});
  out.push_back({"j. failover of a SIGSTOPped owner, max (target: 4,000 ms)",
                 *std::max_element(paused.begin(), paused.end()), "ms", 0, 0, 4000.0, true});
}

}  // namespace keel::bench
