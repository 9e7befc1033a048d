#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "keel/runtime/detail/eviction_pacer.hpp"
#include "keel/runtime/envelope.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class call_router;
class monotonic_clock;
class node_stats;
class wall_clock;
}  // namespace keel

namespace keel::detail {

/// The node-wide sweep, every `interval` on a thread of its own: ends calls past their
/// deadline (one sweep instead of a timer per call, CAF_NOTES.md §7) and logs slow ones;
/// every half idle timeout asks each activation to check itself for idleness (a timer per
/// activation woke CAF's clock thread for every activation started); near the activation
/// limit evicts the longest-idle ones; closes the stats intervals.
///
/// A plain thread in a timed wait: one wake-up a tick. As a detached actor sending itself a
/// delayed message it cost three (its own, and CAF's clock thread's twice: the new timer,
/// then its expiry), which is most of what an idle node spends.
///
/// Thread safety: constructed and stopped by node_runtime on the thread that owns it; the
/// sweep runs on the sweeper's own thread only.
class deadline_sweeper {
 public:
  struct config {
    call_router* router = nullptr;
    const monotonic_clock* clock = nullptr;
    std::chrono::milliseconds interval{10};
    std::chrono::milliseconds idle_timeout{0};
    std::chrono::milliseconds slow_request{0};
    node_stats* stats = nullptr;
    std::chrono::milliseconds stats_interval{1000};
    std::shared_ptr<wall_clock> wall;
    // Set when the runtime starts, not when the sweeper's thread does: a clock advanced
    // right after start() must find the first idle check due.
    steady_time first_idle_check;
    std::shared_ptr<spdlog::logger> log;
  };

  /// Starts the thread; its first sweep is one interval away. Requires: every pointer in
  /// `cfg` outlives the sweeper, or its stop().
  explicit deadline_sweeper(config cfg);
  ~deadline_sweeper();
  deadline_sweeper(const deadline_sweeper&) = delete;
  deadline_sweeper& operator=(const deadline_sweeper&) = delete;

  /// Ends the thread after the sweep under way, if any. Idempotent.
  void stop();

 private:
  void run();
  void sweep(steady_time now);

  const config cfg_;
  const std::chrono::milliseconds idle_period_;
  eviction_pacer pacer_;
  steady_time next_idle_check_;
  steady_time next_stats_close_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: started once the rest is set
};

}  // namespace keel::detail
