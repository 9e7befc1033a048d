#pragma once

// What keel-bench's in-process benchmarks share: a scratch directory, the process's resident
// memory, and a node runtime over a LevelDB store.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/node_runtime.hpp"

namespace keel::bench {

/// A fresh directory under /tmp, removed with everything in it on scope exit.
struct scratch_dir {
  std::string path;
  scratch_dir() {
    char pattern[] = "/tmp/keel-bench-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~scratch_dir() { std::system(("rm -rf " + path).c_str()); }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

/// This process's resident memory, in bytes.
inline long rss_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

/// CAF with two scheduler threads: the machine class's cores.
inline std::unique_ptr<caf::actor_system_config> make_config() {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->set("scheduler.max-threads", 2);
  return cfg;
}

/// A node runtime with `counter` (and whatever `extra_types` registers) over a LevelDB
/// store, on its own actor system: on a scratch dir of its own, or at `db_path`.
/// Thread safety: externally synchronized.
struct keel_node_fixture {
  std::unique_ptr<scratch_dir> own_dir;  // declared first: removed after the runtime stopped
  type_registry types;
  std::unique_ptr<caf::actor_system_config> cfg = make_config();
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<node_runtime> rt;

  explicit keel_node_fixture(bool sync, const std::function<void(type_registry&)>& extra_types = {})
      : own_dir(std::make_unique<scratch_dir>()) {
    start(own_dir->path + "/db", sync, extra_types, make_system_clock());
  }
  keel_node_fixture(const std::string& db_path, bool sync,
                    const std::function<void(type_registry&)>& extra_types,
                    std::shared_ptr<wall_clock> clock) {
    start(db_path, sync, extra_types, std::move(clock));
  }
  ~keel_node_fixture() {
    rt.reset();
    sys.reset();
  }
  keel_node_fixture(const keel_node_fixture&) = delete;
  keel_node_fixture& operator=(const keel_node_fixture&) = delete;

 private:
  void start(const std::string& db_path, bool sync,
             const std::function<void(type_registry&)>& extra_types,
             std::shared_ptr<wall_clock> clock) {
    using namespace std::chrono_literals;
    register_counter(types);
    if (extra_types) extra_types(types);
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto store = open_leveldb_store({db_path, sync});
    if (!store) throw std::runtime_error(message_of(store.error()));
    runtime_options opts;
    opts.idle_timeout = 5min;
    opts.default_timeout = 60s;
    auto started = node_runtime::start(*sys, types, std::move(*store), std::move(clock), opts);
    if (!started) throw std::runtime_error(message_of(started.error()));
    rt = std::move(*started);
  }
};

/// Calls `target(i)` with `request` for every i in [from, to), at most 1,000 in flight (so
/// memory holds activations, not queued calls), and waits for every answer.
inline void call_in_batches(keel_node_fixture& node, int from, int to,
                            const std::function<actor_id(int)>& target, message_ptr request) {
  using namespace std::chrono_literals;
  for (int first = from; first < to; first += 1000) {
    int last = std::min(to, first + 1000);
    std::atomic<int> answered{0};
    std::promise<void> batch;
    for (int i = first; i < last; ++i)
      node.rt->call(target(i), request, std::chrono::steady_clock::now() + 60s, trace_id::make(),
                    "bench", [&, n = last - first](call_result) {
                      if (++answered == n) batch.set_value();
                    });
    batch.get_future().wait();
  }
}

}  // namespace keel::bench
