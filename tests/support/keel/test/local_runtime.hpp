#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel::test {

/// One node runtime in this process, over real LevelDB in a directory, on an actor system
/// of its own with two scheduler threads: what an integration test starts,
/// stops, and starts again on the same directory to see what survived.
/// Thread safety: externally synchronized (the test's thread starts and stops it).
struct local_runtime {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<node_runtime> rt;

  local_runtime() = default;
  local_runtime(const local_runtime&) = delete;
  local_runtime& operator=(const local_runtime&) = delete;
  ~local_runtime() { stop(); }

  /// Requires: stopped; `types` outlives the runtime.
  void start(const type_registry& types, const store_options& store_opts) {
    auto store = open_leveldb_store(store_opts);
    ASSERT_TRUE(store) << message_of(store.error());
    start(types, std::move(*store));
  }

  /// Over a store the test made (a fault-injecting wrapper), with its clock and options.
  /// Requires: stopped; `types` outlives the runtime. Leaves `rt` null on failure.
  void start(const type_registry& types, std::unique_ptr<state_store> store,
             std::shared_ptr<wall_clock> clock = make_system_clock(), runtime_options opts = {}) {
    cfg = std::make_unique<caf::actor_system_config>();
    cfg->set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto started =
        node_runtime::start(*sys, types, std::move(store), std::move(clock), std::move(opts));
    ASSERT_TRUE(started) << message_of(started.error());
    rt = std::move(*started);
  }

  /// The runtime first, then its actor system (which waits for every actor).
  void stop() {
    rt.reset();
    sys.reset();
    cfg.reset();
  }
};

}  // namespace keel::test
