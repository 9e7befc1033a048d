#include "runtime_benches.hpp"

#include "bench_node.hpp"
#include "call_driver.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/runtime/actor_call.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double raw_caf_rate(int n, int window) {
  auto cfg = make_config();
  caf::actor_system sys{*cfg};
  auto server = sys.spawn([]() -> caf::behavior { return {[](uint64_t x) { return x; }}; });
  auto rate = drive(sys, n, window, [server](auto* self, std::function<void(bool)> done) {
    self->request(server, caf::infinite, uint64_t{1})
        .then([done](uint64_t) { done(true); }, [done](caf::error&) { done(false); });
  });
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  return rate;
}

double keel_call_rate(keel_node_fixture& node, int n, int window, const actor_id& target,
                      message_ptr request) {
  auto* router = &node.rt->router();
  auto deadline = clock_type::now() + 600s;  // one deadline for the run, as a client would
  return drive(*node.sys, n, window, [=](auto* self, std::function<void(bool)> done) {
    call_from_actor(self, *router, target, request, deadline, trace_id{}, "bench",
                    wait_mode::multiplex, [done](call_result r) { done(static_cast<bool>(r)); });
  });
}

}  // namespace

void bench_local_calls(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  for (int window : {1, 100}) {
    prog.step(fmt::format("(a) local call, {} in flight: keel counter Get vs raw CAF", window));
    int n = cfg.quick ? 100000 : 400000;
    std::vector<double> keel_rates, raw_rates;
    keel_node_fixture node{false};
    actor_id target{"counter", "bench"};
    message_ptr get = std::make_shared<builtin::Get>();
    keel_call_rate(node, 1000, window, target, get);  // warm-up: activation, allocators
    raw_caf_rate(1000, window);
    for (int r = 0; r < cfg.rounds; ++r) {
      raw_rates.push_back(raw_caf_rate(n, window));
      keel_rates.push_back(keel_call_rate(node, n, window, target, get));
      prog.note(fmt::format("round {}: keel {:.0f}/s raw {:.0f}/s", r + 1, keel_rates.back(),
                            raw_rates.back()));
    }
    out.push_back({fmt::format("a. local call, {} in flight", window), median(keel_rates),
                   "calls/s", median(raw_rates), median_ratio(keel_rates, raw_rates), 0.7});
  }
}

void bench_durable_turns(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  constexpr int writers = 64;
  constexpr int keys = 10000;
  auto seconds = cfg.quick ? 2.0 : 5.0;
  prog.step(fmt::format("(b) durable turns, {} writers over {} actors vs raw LevelDB sync puts",
                        writers, keys));
  // The bytes LevelDB gets per Keel turn: 8-byte version + a CounterState of a few bytes.
  builtin::CounterState sample;
  sample.set_value(1000);
  auto value = encode_versioned(1000, sample.SerializeAsString());

  auto raw_rate = [&] {
    scratch_dir dir;
    leveldb::Options options;
    options.create_if_missing = true;
    options.write_buffer_size = 16 << 20;
    leveldb::DB* raw = nullptr;
    if (!leveldb::DB::Open(options, dir.path + "/db", &raw).ok()) return 0.0;
    std::unique_ptr<leveldb::DB> db{raw};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> puts{0};
    std::vector<std::thread> threads;
    auto start = clock_type::now();
    for (int t = 0; t < writers; ++t)
      threads.emplace_back([&, t] {
        std::mt19937 rng(t);
        leveldb::WriteOptions wo;
        wo.sync = true;
        while (!stop) {
          leveldb::WriteBatch batch;
          batch.Put(state_key(actor_id{"counter", "k" + std::to_string(rng() % keys)}), value);
          if (db->Write(wo, &batch).ok()) ++puts;
        }
      });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    return puts / std::chrono::duration<double>(clock_type::now() - start).count();
  };

  auto keel_rate = [&] {
    keel_node_fixture node{true};
    auto* router = &node.rt->router();
    auto inc = std::make_shared<builtin::Increment>();
    inc->set_by(1);
    message_ptr request = inc;
    std::atomic<uint64_t> done{0};
    std::atomic<bool> stop{false};
    std::promise<void> drained;
    std::atomic<int> in_flight{writers};
    auto start = clock_type::now();
    node.sys->spawn([&, router, request](caf::event_based_actor* self) {
      auto rng = std::make_shared<std::mt19937>(7);
      auto next = std::make_shared<std::function<void()>>();
      *next = [=, &done, &stop, &drained, &in_flight] {
        actor_id target{"counter", "k" + std::to_string((*rng)() % keys)};
        call_from_actor(self, *router, target, request, clock_type::now() + 60s, trace_id{},
                        "bench", wait_mode::multiplex,
                        [=, &done, &stop, &drained, &in_flight](call_result r) {
                          if (r) ++done;
                          if (!stop) return (*next)();
                          if (--in_flight == 0) {
                            drained.set_value();
                            self->quit();
                          }
                        });
      };
      for (int i = 0; i < writers; ++i) (*next)();
    });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    auto count = done.load();
    drained.get_future().wait();
    auto batches = node.rt->metrics().commit_batches.value();
    auto writes = node.rt->metrics().commit_writes.value();
    prog.note(fmt::format("keel: {} commits in {} batches ({:.1f} turns per sync)", writes, batches,
                          batches ? double(writes) / batches : 0.0));
    return count / elapsed;
  };

  std::vector<double> keel_rates, raw_rates;
  for (int r = 0; r < cfg.rounds; ++r) {
    raw_rates.push_back(raw_rate());
    keel_rates.push_back(keel_rate());
    prog.note(fmt::format("round {}: keel {:.0f} turns/s, raw {:.0f} puts/s", r + 1,
                          keel_rates.back(), raw_rates.back()));
  }
  out.push_back({fmt::format("b. durable turns, {} writers", writers), median(keel_rates),
                 "turns/s", median(raw_rates), median_ratio(keel_rates, raw_rates), 0.7});
}

int memory_child(const std::string& kind, int count) {
  if (kind == "caf") {
    auto cfg = make_config();
    caf::actor_system sys{*cfg};
    std::vector<caf::actor> actors;
    actors.reserve(count);
    // Warm the allocator and scheduler with a few first.
    for (int i = 0; i < 100; ++i)
      actors.push_back(sys.spawn([]() -> caf::behavior { return {[](uint64_t x) { return x; }}; }));
    auto before = rss_bytes();
    for (int i = 100; i < count + 100; ++i)
      actors.push_back(sys.spawn([]() -> caf::behavior { return {[](uint64_t x) { return x; }}; }));
    std::this_thread::sleep_for(200ms);
    auto after = rss_bytes();
    std::printf("%.1f\n", double(after - before) / count);
    std::fflush(stdout);
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return 0;
  }
  keel_node_fixture node{false};
  auto activate = [&](int from, int to) {
    call_in_batches(
        node, from, to,
        [](int i) {
          return actor_id{"counter", "m" + std::to_string(i)};
        },
        std::make_shared<builtin::Get>());
  };
  activate(0, 100);
  std::this_thread::sleep_for(100ms);
  auto before = rss_bytes();
  activate(100, count + 100);
  std::this_thread::sleep_for(200ms);
  auto after = rss_bytes();
  std::printf("%.1f\n", double(after - before) / count);
  std::fflush(stdout);
  return 0;
}

void bench_memory(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  int count = 100000;
  prog.step(fmt::format("(c) memory: RSS per idle activation over {} counters vs bare CAF actors",
                        count));
  auto run_child = [&](const std::string& kind) {
    auto cmd = fmt::format("{} --memory-child={} --count={}", cfg.self_path, kind, count);
    FILE* pipe = popen(cmd.c_str(), "r");
    double per = -1;
    if (pipe) {
      if (std::fscanf(pipe, "%lf", &per) != 1) per = -1;
      pclose(pipe);
    }
    return per;
  };
  std::vector<double> keel_bytes, caf_bytes;
  for (int r = 0; r < (cfg.quick ? 1 : 2); ++r) {
    caf_bytes.push_back(run_child("caf"));
    keel_bytes.push_back(run_child("keel"));
    prog.note(fmt::format("round {}: keel {:.0f} B, bare CAF {:.0f} B per actor", r + 1,
                          keel_bytes.back(), caf_bytes.back()));
  }
  auto k = median(keel_bytes), b = median(caf_bytes);
  result overhead{"c. memory overhead per activation beyond CAF", k - b, "bytes", b, k / b, 1024.0};
  overhead.lower_is_better = true;
  out.push_back(overhead);
  out.push_back(
      {"c. memory per idle activation (total)", k, "bytes", 2662, k / 2662, std::nullopt});
}

namespace {

std::atomic<const void*> last_request_seen{nullptr};

}  // namespace

void bench_local_protobuf(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  prog.step("(e) local protobuf path: object identity and the cost of a forced serialization");
  keel_node_fixture node{
      false, [](type_registry& types) {
        types.add_stateless("probe", 1).on<builtin::Echo>([](const builtin::Echo& m, context&) {
          last_request_seen = &m;
          builtin::Echo reply;
          reply.set_number(m.number());
          return reply;
        });
      }};
  actor_id target{"probe", "p"};
  auto echo = std::make_shared<builtin::Echo>();
  echo->set_text(std::string(1024, 'x'));
  echo->set_number(7);
  // Identity: the handler sees the very object the caller sent, so nothing was serialized.
  auto r = node.rt->call_and_wait(target, echo, 5s);
  int serializations = (r && last_request_seen.load() == echo.get()) ? 0 : 1;
  result identity{"e. serializations per local call", double(serializations), "count", 0, 0, 0.0};
  identity.lower_is_better = true;
  out.push_back(identity);

  int n = cfg.quick ? 50000 : 200000;
  std::vector<double> plain, forced;
  for (int round = 0; round < cfg.rounds; ++round) {
    plain.push_back(keel_call_rate(node, n, 1, target, echo));
    // What a wire crossing adds: serialize and parse the request on every call.
    auto* router = &node.rt->router();
    forced.push_back(drive(*node.sys, n, 1, [=](auto* self, std::function<void(bool)> done) {
      auto copy = std::make_shared<builtin::Echo>();
      copy->ParseFromString(echo->SerializeAsString());
      call_from_actor(self, *router, target, copy, clock_type::now() + 60s, trace_id{}, "bench",
                      wait_mode::multiplex, [done](call_result r) {
                        if (r) (*r)->SerializeAsString();
                        done(static_cast<bool>(r));
                      });
    }));
  }
  out.push_back({"e. local 1 KiB call vs forced serialize+parse", median(plain), "calls/s",
                 median(forced), median_ratio(plain, forced), std::nullopt});
}

}  // namespace keel::bench
