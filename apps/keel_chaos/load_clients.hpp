#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "key_ledger.hpp"
#include "live_targets.hpp"
#include "phase_stats.hpp"
#include "progress_log.hpp"

namespace keel::chaos {

/// Whether a phase injects a fault (and so takes the failures of calls in flight when it
/// began) or is steady load.
enum class phase_kind { steady, fault };

struct load_config {
  int clients = 8;
  int keys = 300;
  int phases = 1;  // phase indexes run 0..phases-1
  std::chrono::milliseconds call_timeout{4500};
  uint64_t seed = 1;
};

/// A key that kept refusing writes (or reads) after the last recovery.
struct stuck_key {
  std::string key;
  std::string node_id;
  std::string code;
  std::string message;
};

/// The client threads: each owns keys k with k % clients == its index and increments one
/// of them at a time through a random live target, checking every answer against its
/// key_ledger. After stop(), sweep() and final_read() check every key the same way.
/// Thread safety: start/stop/sweep/final_read/stats/stuck are for the main thread only;
/// set_phase, anomalies and the live totals may be called from any thread.
class load_clients {
 public:
  load_clients(load_config config, live_targets& targets, progress_log& log);
  ~load_clients();

  void start();
  /// Calls started from now on count in `phase`; so does a call that started earlier and
  /// fails while `phase` is a fault's (the fault most likely failed it, not the phase it
  /// started in). Requires: phase < config.phases.
  void set_phase(int phase, phase_kind kind) noexcept {
    phase_.store(2 * phase + (kind == phase_kind::fault ? 1 : 0));
  }
  void stop();
  /// Requires: stopped. Each key gets one acknowledged Increment through every target, with
  /// up to `attempts` tries per target; a key whose tries all fail is stuck.
  void sweep(int phase, int attempts);
  /// Requires: stopped. Reads every key (up to 5 tries) and checks the value.
  void final_read(int phase);

  phase_stats stats(int phase) const;
  std::vector<stuck_key> stuck() const;
  int64_t acked_total() const;
  /// Requires: stopped. Summed over the keys: see key_ledger::unknown_settled().
  std::pair<int64_t, int64_t> unknown_settled_and_applied() const;
  int64_t count(anomaly kind) const noexcept { return anomalies_[static_cast<int>(kind)].load(); }
  int64_t requests_so_far() const noexcept { return requests_.load(); }
  int64_t failed_so_far() const noexcept { return failed_.load(); }

 private:
  struct client;
  void run_load(client& c);
  void run_sweep(client& c, int phase, int attempts);
  void run_final_read(client& c, int phase);
  /// Records one Increment answer: stats, ledger check, live totals.
  void note(client& c, int phase, size_t key, const call_result& r, const target& via);
  void report(anomaly kind, const std::string& what);
  void run_each(const std::function<void(client&)>& body);

  const load_config config_;
  live_targets& targets_;
  progress_log& log_;
  std::vector<std::unique_ptr<client>> clients_;
  std::atomic<int> phase_{0};  // 2 * phase, plus 1 for a fault's phase
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> failed_{0};
  std::array<std::atomic<int64_t>, 3> anomalies_{};
};

}  // namespace keel::chaos
