#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/call_router.hpp"
#include "keel/runtime/call_slot.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/node_fence.hpp"
#include "keel/runtime/node_stats.hpp"
#include "keel/runtime/partition_host.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/span_buffer.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/trace_id.hpp"
#include "keel/runtime/turn_log.hpp"

namespace keel::detail {
struct node_services;
class deadline_sweeper;
class local_partition_host;
}  // namespace keel::detail

namespace keel {

struct runtime_options {
  std::string node_id = "n1";
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{5}};
  std::chrono::milliseconds default_timeout{std::chrono::seconds{5}};
  std::chrono::milliseconds sweep_interval{10};
  // A request from HTTP open this long is logged once with its trace id and what it waits
  // on (the chain of actors), while it is still open.
  std::chrono::milliseconds slow_request{std::chrono::seconds{1}};
  size_t turn_log_capacity = 16384;
  // /v1/stats closes an interval this often and keeps 15 minutes of them.
  std::chrono::milliseconds stats_interval{5000};
  // Every traced turn goes here as a span for an exporter to take; null: none is kept.
  std::shared_ptr<span_buffer> spans;
  // Above 90 % of it the longest-idle activations are evicted; at it new ones are refused.
  size_t max_activations = 1'000'000;
  // Checked at every turn start and group commit; null: never closed (a single node).
  std::shared_ptr<const node_fence> fence;
  // Idleness, deadlines and sweeps; null: a clock of the runtime's own. Tests pass one they
  // advance.
  std::shared_ptr<monotonic_clock> monotonic;
};

/// One node's virtual-actor runtime: the router, the store actors, the reminder service and
/// the deadline sweep, over one state store. The entry point for callers outside actors
/// (the HTTP gateway, tools, tests).
/// Thread safety: thread-safe. Requires: the actor system outlives the runtime, and the
/// runtime is stopped (or destroyed) before the actor system.
class node_runtime {
 public:
  /// Starts the runtime; `types` must outlive it. A registry with wiring mistakes (a type
  /// or a handler added twice: type_registry::check) is refused with errc::bad_payload
  /// naming them, before anything starts.
  static caf::expected<std::unique_ptr<node_runtime>> start(caf::actor_system& sys,
                                                            const type_registry& types,
                                                            std::unique_ptr<state_store> store,
                                                            std::shared_ptr<wall_clock> clock,
                                                            runtime_options opts);
  ~node_runtime();
  node_runtime(const node_runtime&) = delete;
  node_runtime& operator=(const node_runtime&) = delete;

  /// Calls `target`; `done` runs exactly once, on an arbitrary thread, with the reply or an
  /// error carrying a Keel code (`timeout` at `deadline`). The turn it starts names
  /// `parent` (a client's span, say) as its parent span.
  void call(actor_id target, message_ptr request, steady_time deadline, trace_id trace,
            std::string caller, call_slot::callback done, span_id parent = {});

  /// Blocking convenience for tools and tests: waits for the answer.
  call_result call_and_wait(const actor_id& target, message_ptr request,
                            std::chrono::milliseconds timeout);

  /// One-way message.
  void tell(actor_id target, message_ptr message, trace_id trace);

  /// The wall clock seam jumped ahead (a test's fake clock advanced, or the system clock
  /// was stepped): reminders due by its new time fire now. Without it they fire when the
  /// real-time tick armed for them runs out, since CAF's clock knows nothing of the seam.
  void wall_clock_moved();

  /// Why the store takes no writes (a write to the data dir failed: every commit answers
  /// `unavailable` until the node is restarted); nullopt while it does.
  std::optional<std::string> store_failure() const;

  /// Refuses new calls with `unavailable`, stops every activation and the runtime's
  /// actors; committed state stays in the store. Idempotent.
  void stop();

  const type_registry& types() const noexcept { return types_; }
  runtime_metrics& metrics() noexcept { return metrics_; }
  /// Per type and hot-actor statistics over the last interval, and the node's history.
  node_stats& stats() noexcept { return *stats_; }
  const turn_log& turns() const noexcept { return turns_; }
  /// For calls made from inside CAF actors (call_from_actor); the cluster goes through
  /// partitions() instead.
  call_router& router() noexcept { return router_; }
  /// The cluster's seam: whole partitions, their key ranges and the metadata records.
  partition_host& partitions() noexcept;
  /// The cluster's partition directory; set once, before the node serves. Null: single
  /// node. Requires: `directory` outlives the runtime's last call.
  void set_directory(partition_directory* directory) noexcept { router_.set_directory(directory); }
  partition_directory* directory() const noexcept { return router_.directory(); }
  /// Live activations; one atomic read.
  size_t activations() const noexcept { return router_.activations().size(); }
  bool is_active(const actor_id& id) const { return router_.activations().is_active(id); }
  /// Null on a single node.
  const std::shared_ptr<const node_fence>& fence() const noexcept { return opts_.fence; }
  const runtime_options& options() const noexcept { return opts_; }
  /// The monotonic time the runtime decides idleness and deadlines by.
  const monotonic_clock& monotonic() const noexcept { return *opts_.monotonic; }

 private:
  node_runtime(caf::actor_system& sys, const type_registry& types,
               std::unique_ptr<state_store> store, std::shared_ptr<wall_clock> clock,
               runtime_options opts);

  caf::actor_system& sys_;
  const type_registry& types_;
  const runtime_options opts_;
  std::unique_ptr<state_store> store_;
  runtime_metrics metrics_;
  std::unique_ptr<node_stats> stats_;  // made at construction, after the clock is known
  turn_log turns_;
  call_router router_;
  std::unique_ptr<detail::node_services> services_;  // what activations share
  std::unique_ptr<detail::local_partition_host> partitions_;
  std::unique_ptr<detail::deadline_sweeper> sweeper_;
  bool stopped_ = false;
  mutable std::mutex store_failure_mutex_;
  std::optional<std::string> store_failure_;  // guarded by store_failure_mutex_
};

}  // namespace keel
