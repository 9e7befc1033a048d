#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/pending_ask.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/testing/manual_wall_clock.hpp"

namespace keel::testing {

class commit_signal;

struct test_node_options {
  // The data dir; empty: a fresh one under $TMPDIR, removed with the node. A dir given is
  // left as it is, so a test can open it again.
  std::string dir;
  // `monotonic` is ignored: the node's own fake clock replaces it.
  runtime_options runtime;
  // A call's deadline on the fake clock; the call is also given up after this long (plus
  // a second) of real time, so a test that never gets an answer fails instead of hanging.
  std::chrono::milliseconds call_timeout{std::chrono::seconds{10}};
  int64_t wall_start_ms = manual_wall_clock::default_start_ms;
  int scheduler_threads = 2;
};

/// One node runtime in the test's process, over real LevelDB, with a fake monotonic clock
/// and a fake wall clock that move only when the test calls advance(): deadlines, idle
/// passivation and reminders follow them, so a test passes an hour without waiting for
/// it; so do an HTTP gateway's request deadlines when its gateway_options::clock is the
/// runtime's (`runtime().options().monotonic`). Timers (`ctx.set_timer`) run on CAF's
/// real clock and do not follow. restart() stops the runtime and
/// starts it again on the same dir, to see what survived. Framework-agnostic: failures are
/// caf::expected / caf::error values.
/// Thread safety: call(), tell(), advance() and wait_until() may run on any threads at
/// once; restart() and destruction are externally synchronized (no other call meanwhile).
class test_node {
 public:
  /// Opens (or creates) the store and starts the runtime. Requires: `types` outlives the
  /// node. errc::unavailable: the temp dir or the store could not be made.
  [[nodiscard]] static caf::expected<std::unique_ptr<test_node>> start(const type_registry& types,
                                                                       test_node_options opts = {});

  ~test_node();
  test_node(const test_node&) = delete;
  test_node& operator=(const test_node&) = delete;

  /// Calls `target` and waits for its reply as a `Reply`: the reply, the actor's error, or
  /// errc::app_error if it answered another type. No answer in real time: errc::timeout
  /// naming the target and the message.
  template <class Reply, class Request>
  caf::expected<Reply> call(const actor_id& target, const Request& request) {
    return reply_as<Reply>(call_message(target, std::make_shared<Request>(request)));
  }

  /// One-way message.
  template <class Request>
  void tell(const actor_id& target, const Request& message) {
    runtime_->tell(target, std::make_shared<Request>(message), trace_id::make());
  }

  /// Moves both clocks forward by `by` and has the reminders due by then fire. Returns
  /// at once: what the time makes happen happens on the node's threads (wait_until).
  void advance(std::chrono::milliseconds by);

  /// Stops the runtime (committed state stays on disk, the clocks keep their time) and
  /// starts a new one on the same dir. On an error the node has no runtime; only
  /// destruction is allowed then.
  [[nodiscard]] caf::error restart();

  /// Evaluates `done` now and again after each commit the store makes, until it holds or
  /// `limit` of real time has passed; whether it held. For outcomes the node's own threads
  /// bring about (a reminder's turn and what it sets off): no sleeping, no polling.
  /// `done` may call the node.
  bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

  /// Requires: the node has a runtime (started, and no failed restart).
  node_runtime& runtime() noexcept { return *runtime_; }
  const std::string& dir() const noexcept { return dir_; }
  /// Batches the store has written since the node was made, across restarts.
  uint64_t commits() const noexcept;

 private:
  test_node(const type_registry& types, test_node_options opts, std::string dir, bool owns_dir);
  [[nodiscard]] caf::error start_runtime();
  void stop_runtime();
  call_result call_message(const actor_id& target, message_ptr request);

  // Fixed at construction.
  const type_registry& types_;
  const test_node_options opts_;
  const std::string dir_;
  const bool owns_dir_;
  const std::shared_ptr<monotonic_clock> monotonic_ = std::make_shared<monotonic_clock>();
  const std::shared_ptr<manual_wall_clock> wall_;
  const std::shared_ptr<commit_signal> commits_;
  // Replaced by restart(), which no other call overlaps.
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<node_runtime> runtime_;
};

}  // namespace keel::testing
