// (f) cross-node calls: a caller in this process (node A, a real cluster member) calls a
// counter owned by a keel-node child (node B), against raw CAF request/response over the
// middleman to a child process and raw TCP ping-pong to a child process.
#include "cluster_bench.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <iostream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>

#include "call_driver.hpp"
#include "child_process.hpp"
#include "handoff_cost.hpp"
#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/ssl_error_queue.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/actor_call.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/scheduler_config.hpp"
#include "process_usage.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
constexpr size_t tcp_message = 100;  // bytes per ping

// -- raw TCP ----------------------------------------------------------------------------------

bool full_io(int fd, char* buf, size_t n, bool reading) {
  size_t done = 0;
  while (done < n) {
    auto r = reading ? read(fd, buf + done, n - done) : write(fd, buf + done, n - done);
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

// What both ends of a connection spent from its construction to stop(): CPU in
// microseconds and thread switches per call. The echo child serves each connection on a
// thread that ends with it, and an ended thread's time leaves /proc/<pid>/task: so stop()
// comes before the connection closes.
class cost_meter {
 public:
  explicit cost_meter(pid_t peer) : peer_(peer), before_(process_usage::of({getpid(), peer})) {}
  void stop() {
    if (!spent_) spent_ = process_usage::of({getpid(), peer_}) - before_;
  }
  double cpu_us_per(int calls) {
    stop();
    return static_cast<double>(spent_->cpu_ns) / 1e3 / calls;
  }
  double switches_per(int calls) {
    stop();
    return static_cast<double>(spent_->switches) / calls;
  }

 private:
  pid_t peer_;
  process_usage before_;
  std::optional<process_usage> spent_;
};

// A rate and what both ends of the connection spent per call: CPU in microseconds and
// thread switches.
struct rate_and_cost {
  double rate = 0;
  double cpu_us = 0;
  double switches = 0;
};

// Runs `run`, which makes `calls` calls between this process and `peer` (and may stop the
// meter it is given before its connection closes), and returns its rate with what both
// ends spent per call.
template <class Run>
rate_and_cost with_cost(pid_t peer, int calls, Run run) {
  cost_meter meter{peer};
  double rate = run(meter);
  return {rate, meter.cpu_us_per(calls), meter.switches_per(calls)};
}

// Round trips per second of 100-byte pings on one connection with `window` in flight.
// `meter`, if given, is stopped before the connection closes.
double tcp_rate(int port, int n, int window, cost_meter* meter = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot connect to the TCP echo child");
  std::vector<char> buf(tcp_message * static_cast<size_t>(window), 'p');
  auto start = clock_type::now();
  // Pipelined: send a window, then each answer read lets one more go.
  full_io(fd, buf.data(), buf.size(), false);
  for (int i = 0; i < n; ++i) {
    full_io(fd, buf.data(), tcp_message, true);
    if (i + window < n) full_io(fd, buf.data(), tcp_message, false);
  }
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  if (meter) meter->stop();
  close(fd);
  return n / secs;
}

std::unique_ptr<caf::actor_system_config> cluster_config(const cluster::cluster_tls& tls = {}) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  // As keel-node sets them (its default --threads: one fewer than the cores, at least one):
  // node A, and the raw CAF baseline peer with it. A second worker here cost each call more
  // thread switches than keel-node's own nodes pay.
  configure_scheduler(*cfg, std::max(2u, std::thread::hardware_concurrency()) - 1);
  if (tls.enabled() && !cluster::ssl_error_queue_guarded())
    throw std::runtime_error("keel-bench's SSL calls do not reach Keel's guard");
  cluster::configure_cluster_transport(*cfg, tls);
  return cfg;
}

}  // namespace

int cluster_child(const std::string& kind) {
  if (kind == "tcp-echo") {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(lfd, 16);
    socklen_t len = sizeof addr;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::cout << "tcp-echo listening http=127.0.0.1:" << ntohs(addr.sin_port) << std::endl;
    while (true) {
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0) return 0;
      std::thread{[fd] {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[tcp_message];
        while (full_io(fd, buf, sizeof buf, true) && full_io(fd, buf, sizeof buf, false)) {
        }
        close(fd);
      }}.detach();
    }
  }
  if (kind == "caf-echo") {
    auto cfg = cluster_config();
    caf::actor_system sys{*cfg};
    auto echo = sys.spawn([]() -> caf::behavior { return {[](uint64_t x) { return x; }}; });
    auto port = sys.middleman().publish(echo, 0, "127.0.0.1", true);
    if (!port) return 1;
    std::cout << "caf-echo listening http=127.0.0.1:" << *port << std::endl;
    pause();  // until SIGTERM
    return 0;
  }
  std::cerr << "unknown child kind " << kind << "\n";
  return 2;
}

namespace {

// Node A in this process and node B, a keel-node child, joined through one etcd, with a
// counter B owns: what the keel rows call. With `certs`, every node-to-node connection is
// mutual TLS under their CA. Stops A and removes its data on destruction.
class cross_node_pair {
 public:
  cross_node_pair(const bench_config& cfg, const bench_certs* certs)
      : node_b_(cfg.bin_dir + "/keel-node", node_b_args(certs)) {
    cluster::cluster_tls tls;
    if (certs) tls = {{certs->cert, certs->key}, certs->ca};
    cfg_ = cluster_config(tls);
    sys_ = std::make_unique<caf::actor_system>(*cfg_);
    auto store = open_leveldb_store({a_dir_ + "/db", true});
    if (!store) throw std::runtime_error(message_of(store.error()));
    cluster::membership_options mopts;
    mopts.etcd = etcd_.endpoint();
    mopts.node_id = "bench-a";
    mopts.transport_tls = tls;
    members_ = std::make_shared<cluster::membership>(mopts, log_);
    runtime_options ropts;
    ropts.node_id = "bench-a";
    ropts.fence = members_;
    register_counter(types_);
    auto rt = node_runtime::start(*sys_, types_, std::move(*store), make_system_clock(), ropts);
    if (!rt) throw std::runtime_error(message_of(rt.error()));
    rt_ = std::move(*rt);
    directory_ = std::make_unique<cluster::cluster_directory>(*members_, *rt_, *sys_, log_);
    join();
  }
  ~cross_node_pair() {
    directory_->stop();
    rt_->stop();
    members_->leave();
    std::system(("rm -rf " + a_dir_ + " " + b_dir_).c_str());
  }

  caf::actor_system& sys() { return *sys_; }
  pid_t node_b_pid() const { return node_b_.pid(); }

  // Calls per second of Get on B's counter from an actor in A, `window` in flight.
  double rate(int n, int window) {
    auto deadline = clock_type::now() + 600s;
    auto* router = &rt_->router();
    message_ptr get = std::make_shared<builtin::Get>();
    return drive(
        *sys_, n, window, [=, target = target_](auto* self, std::function<void(bool)> done) {
          call_from_actor(self, *router, target, get, deadline, trace_id{}, "bench",
                          wait_mode::multiplex, [done](call_result r) {
                            // A failed call zeroes its round: say why.
                            if (!r) std::cerr << "call failed: " << message_of(r.error()) << "\n";
                            done(static_cast<bool>(r));
                          });
        });
  }

 private:
  std::vector<std::string> node_b_args(const bench_certs* certs) const {
    std::vector<std::string> args{"--node-id=bench-b", "--etcd=" + etcd_.endpoint(),
                                  "--http-port=0", "--cluster-port=0", "--data-dir=" + b_dir_,
                                  "--log-level=warn",
                                  // The crossing alone, with no copies written (row j has those).
                                  "--replication-factor=1"};
    if (certs)
      args.insert(args.end(), {"--cluster-tls-cert=" + certs->cert,
                               "--cluster-tls-key=" + certs->key, "--cluster-tls-ca=" + certs->ca});
    return args;
  }

  // Publishes A, joins, and places a counter on B.
  void join() {
    auto port = directory_->publish("127.0.0.1", 0);
    if (!port) throw std::runtime_error("cannot publish node A's endpoint");
    rt_->set_directory(directory_.get());
    if (auto err = members_->join("127.0.0.1:0", "127.0.0.1:" + std::to_string(*port)))
      throw std::runtime_error(message_of(err));
    for (int i = 0; i < 100 && members_->members().size() < 2; ++i)
      std::this_thread::sleep_for(50ms);
    // A counter whose partition rendezvous hashing gives to B.
    for (int k = 0;; ++k) {
      target_ = actor_id{"counter", "remote" + std::to_string(k)};
      if (cluster::membership::rendezvous_owner(target_.partition(), {"bench-a", "bench-b"}) ==
          "bench-b")
        break;
    }
    auto warm = rt_->call_and_wait(target_, std::make_shared<builtin::Increment>(), 5s);
    if (!warm)
      throw std::runtime_error("first cross-node call failed: " + message_of(warm.error()));
    auto where = members_->partition(target_.partition());
    if (!where || where->owner() != "bench-b")
      throw std::runtime_error("the bench counter was not placed on node B");
  }

  std::shared_ptr<spdlog::logger> log_ =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  etcd_child etcd_;
  std::string b_dir_ = scratch();
  std::string a_dir_ = scratch();
  server_process node_b_;
  type_registry types_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<cluster::membership> members_;
  std::unique_ptr<node_runtime> rt_;
  std::unique_ptr<cluster::cluster_directory> directory_;
  actor_id target_{"counter", ""};
};

}  // namespace

void bench_cross_node(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  prog.step(
      "(f) cross-node call: counter on another keel-node vs raw CAF over the middleman "
      "vs raw TCP, and over mutual TLS");
  int n1 = cfg.quick ? 2000 : 5000;
  int n100 = cfg.quick ? 20000 : 60000;
  cross_node_pair plain{cfg, nullptr};
  bench_certs certs;  // before the pair: it must outlive node B and node A's actor system
  cross_node_pair tls{cfg, &certs};

  server_process caf_echo{cfg.self_path, {"--child=caf-echo"}};
  auto& sys = plain.sys();
  auto remote = sys.middleman().remote_actor("127.0.0.1", static_cast<uint16_t>(caf_echo.port()));
  if (!remote) throw std::runtime_error("cannot reach the raw CAF child");
  auto caf_rate = [&](int n, int window) {
    return drive(sys, n, window, [h = *remote](auto* self, std::function<void(bool)> done) {
      self->request(h, caf::infinite, uint64_t{1})
          .then([done](uint64_t) { done(true); }, [done](caf::error&) { done(false); });
    });
  };
  server_process tcp_echo{cfg.self_path, {"--child=tcp-echo"}};

  std::vector<double> keel1, caf1, tcp1, keel100, caf100, tcp100, tls1, tls100;
  // Per call, both ends summed: what a crossing costs a cluster's cores.
  std::vector<double> keel1_cpu, tcp1_cpu, keel100_cpu, caf100_cpu, keel1_switches;
  // What the host charges for a thread waking another, which every crossing does several
  // times (CPU of both threads per hand-off).
  std::vector<double> handoff_across, handoff_one_core;
  int handoffs = cfg.quick ? 20000 : 100000;
  plain.rate(500, 1);  // warm-up: connections, activation
  tls.rate(500, 1);
  caf_rate(500, 1);
  for (int r = 0; r < cfg.rounds; ++r) {
    auto k1 = with_cost(plain.node_b_pid(), n1, [&](cost_meter&) { return plain.rate(n1, 1); });
    keel1.push_back(k1.rate);
    keel1_cpu.push_back(k1.cpu_us);
    keel1_switches.push_back(k1.switches);
    tls1.push_back(tls.rate(n1, 1));
    caf1.push_back(caf_rate(n1, 1));
    auto t1 = with_cost(tcp_echo.pid(), n1 * 4, [&](cost_meter& meter) {
      return tcp_rate(tcp_echo.port(), n1 * 4, 1, &meter);
    });
    tcp1.push_back(t1.rate);
    tcp1_cpu.push_back(t1.cpu_us);
    auto k100 =
        with_cost(plain.node_b_pid(), n100, [&](cost_meter&) { return plain.rate(n100, 100); });
    keel100.push_back(k100.rate);
    keel100_cpu.push_back(k100.cpu_us);
    tls100.push_back(tls.rate(n100, 100));
    auto c100 = with_cost(caf_echo.pid(), n100, [&](cost_meter&) { return caf_rate(n100, 100); });
    caf100.push_back(c100.rate);
    caf100_cpu.push_back(c100.cpu_us);
    tcp100.push_back(tcp_rate(tcp_echo.port(), n100 * 4, 100));
    auto across = measure_handoff_across_cores(handoffs);
    auto one_core = measure_handoff_on_one_core(handoffs);
    if (across && one_core) {
      handoff_across.push_back(across->cpu_us);
      handoff_one_core.push_back(one_core->cpu_us);
    }
    prog.note(
        fmt::format("round {}: 1 in flight keel {:.0f}/s (mTLS {:.0f}/s), CAF {:.0f}/s, TCP "
                    "{:.0f}/s; 100 in flight keel {:.0f}/s (mTLS {:.0f}/s), CAF {:.0f}/s, TCP "
                    "{:.0f}/s; per call, 1 in flight: keel {:.1f} us CPU and {:.1f} thread "
                    "switches, TCP {:.1f} us and {:.1f}; 100 in flight: keel {:.1f} us, CAF "
                    "{:.1f} us",
                    r + 1, keel1.back(), tls1.back(), caf1.back(), tcp1.back(), keel100.back(),
                    tls100.back(), caf100.back(), tcp100.back(), k1.cpu_us, k1.switches, t1.cpu_us,
                    t1.switches, k100.cpu_us, c100.cpu_us));
  }
  out.push_back({"f. cross-node call, 1 in flight, vs raw CAF", median(keel1), "calls/s",
                 median(caf1), median_ratio(keel1, caf1), std::nullopt});
  out.push_back({"f. cross-node call, 100 in flight, vs raw CAF", median(keel100), "calls/s",
                 median(caf100), median_ratio(keel100, caf100), 0.7});
  out.push_back({"f. cross-node call over mTLS, 1 in flight, vs plaintext", median(tls1), "calls/s",
                 median(keel1), median_ratio(tls1, keel1), std::nullopt});
  out.push_back({"f. cross-node call over mTLS, 100 in flight, vs plaintext", median(tls100),
                 "calls/s", median(keel100), median_ratio(tls100, keel100), std::nullopt});
  // Round trips as times: keel's round trip over raw TCP's (how many TCP round trips one
  // cross-node call costs).
  std::vector<double> keel_rtt, tcp_rtt;
  for (size_t i = 0; i < keel1.size(); ++i) {
    keel_rtt.push_back(1e6 / keel1[i]);
    tcp_rtt.push_back(1e6 / tcp1[i]);
  }
  out.push_back({"f. cross-node round trip, 1 in flight, vs raw TCP", median(keel_rtt), "us",
                 median(tcp_rtt), median_ratio(keel_rtt, tcp_rtt), std::nullopt});
  // CPU per call summed over both processes: a cluster's scaling efficiency pays this for
  // every call that crosses, mostly in thread wake-ups (docs/benchmarks.md, "Scale-out").
  out.push_back({"f. CPU per cross-node call, 1 in flight, vs a raw TCP round trip",
                 median(keel1_cpu), "us", median(tcp1_cpu), median_ratio(keel1_cpu, tcp1_cpu),
                 std::nullopt, true});
  out.push_back({"f. thread switches per cross-node call, 1 in flight (context)",
                 median(keel1_switches), "switches", 0, 0, std::nullopt, true});
  out.push_back({"f. CPU per cross-node call, 100 in flight, vs raw CAF", median(keel100_cpu), "us",
                 median(caf100_cpu), median_ratio(keel100_cpu, caf100_cpu), std::nullopt, true});
  if (!handoff_across.empty())
    out.push_back({"f. a thread waking one on another core, vs on its own core (context)",
                   median(handoff_across), "us CPU", median(handoff_one_core),
                   median_ratio(handoff_across, handoff_one_core), std::nullopt, true});
  out.push_back({"f. raw TCP ping-pong, 100 in flight (context)", median(tcp100), "msgs/s", 0, 0,
                 std::nullopt});
}

}  // namespace keel::bench
