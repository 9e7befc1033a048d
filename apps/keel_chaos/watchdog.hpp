#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "progress_log.hpp"

namespace keel::chaos {

/// Ends a run that overstays or is interrupted: on SIGINT or SIGTERM, or once `hard_limit`
/// has passed, it SIGKILLs every child, prints a FAIL verdict naming why, and exits the
/// process (130 after a signal, 1 after the time limit), so keel-chaos always stops by
/// itself and leaves no process behind.
/// Requires: block_stop_signals() ran before any thread was started (threads inherit the
/// mask, and only this one waits for the signals).
/// Thread safety: constructed and destroyed by the main thread; runs a thread of its own.
class watchdog {
 public:
  static void block_stop_signals();

  watchdog(child_registry& registry, progress_log& log, std::chrono::seconds hard_limit,
           std::string work_dir);
  ~watchdog();
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  void watch();

  child_registry& registry_;
  progress_log& log_;
  const std::chrono::steady_clock::time_point deadline_;
  const std::string work_dir_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace keel::chaos
