#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cluster_under_test.hpp"
#include "fault_kind.hpp"
#include "progress_log.hpp"

namespace keel::chaos {

struct fault_timing {
  std::chrono::seconds lease_ttl{2};
  std::chrono::seconds recovery_limit{45};  // from the injection to every member up
  std::chrono::seconds drain_limit{60};     // keelctl drain --timeout
};

/// What one fault did and how the cluster came back.
struct fault_record {
  fault_kind kind = fault_kind::kill_member;
  std::string action;                 // "SIGKILL n2 (coordinator), down 1.2 s"
  std::optional<double> recovery_s;   // from the injection to recovery; nullopt: not in time
  std::string unrecovered;            // what was still missing when the recovery wait ended
  std::vector<std::string> problems;  // steps that did not go as documented
};

/// Injects one fault at a time into the cluster and waits for it to recover. Victims and
/// downtimes are drawn from the seed.
/// Thread safety: externally synchronized: the main thread only, as it drives the cluster.
class fault_runner {
 public:
  /// `tick` runs every 100 ms or so while the runner waits (progress lines).
  fault_runner(cluster_under_test& cluster, progress_log& log, fault_timing timing, uint64_t seed,
               std::function<void()> tick);

  /// Whether the cluster has the members `kind` needs now.
  bool can_run(fault_kind kind) const;
  fault_record run(fault_kind kind);
  /// Sleeps `d`, watching for crashes and ticking.
  void pause(std::chrono::milliseconds d);

 private:
  void kill_member(fault_record& rec);
  void kill_coordinator(fault_record& rec);
  void stop_member(fault_record& rec);
  void kill_etcd(fault_record& rec);
  void join(fault_record& rec);
  void drain_rejoin(fault_record& rec);
  void term_member(fault_record& rec);
  void kill_two(fault_record& rec);
  void kill_during_join(fault_record& rec);
  void kill_during_drain(fault_record& rec);

  /// A random running member not in `except`; empty if there is none.
  std::string pick_member(const std::vector<std::string>& except = {});
  std::chrono::milliseconds draw(int low_ms, int high_ms);
  /// How long a SIGKILLed node stays down before its restart: 0.5 to 2 s.
  std::chrono::milliseconds draw_downtime();
  /// Records what the fault does and prints it, before it is done.
  void describe(fault_record& rec, std::string action);
  /// SIGKILLs every victim, keeps them down for `down`, then restarts them in order.
  void kill_for(const std::vector<std::string>& victims, std::chrono::milliseconds down,
                fault_record& rec);
  void restart(const std::string& id, fault_record& rec);
  /// Marks `victim` leaving and runs `keelctl --node=<via> drain <victim>` without waiting.
  std::unique_ptr<child_process> begin_drain(const std::string& victim, const std::string& via);
  /// Waits for keelctl and for the drained node's exit, noting what went wrong.
  void finish_drain(child_process& keelctl, const std::string& victim, fault_record& rec);
  /// Waits for a leaving node's exit 0; a node still running after `limit` is killed.
  void await_leave(const std::string& id, std::chrono::milliseconds limit, fault_record& rec);

  cluster_under_test& cluster_;
  progress_log& log_;
  const fault_timing timing_;
  std::mt19937_64 rng_;
  std::function<void()> tick_;
};

}  // namespace keel::chaos
