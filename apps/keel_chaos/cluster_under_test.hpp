#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "etcd_child.hpp"
#include "live_targets.hpp"
#include "progress_log.hpp"
#include "step_status.hpp"

namespace keel::chaos {

struct cluster_config {
  std::string bin_dir;   // holds keel-node and keelctl
  std::string work_dir;  // data dirs and logs
  std::string etcd = "etcd";
  int lease_ttl_s = 2;
  int replication_factor = 1;
  std::chrono::milliseconds request_timeout{3000};
  std::chrono::seconds leave_timeout{30};
};

/// Where a node's process is, as the fault loop left it.
enum class node_state {
  down,     // not running: not started yet, killed, or left
  running,  // printed its listening line; expected to be a member
  stopped,  // SIGSTOPped
  leaving,  // asked to leave (SIGTERM or drain): its exit is expected
  crashed,  // exited though nothing asked it to; restarted by wait_recovered()
};

/// A keel-node that exited when keel-chaos had neither killed, stopped nor asked it to leave.
struct crash_record {
  std::string node_id;
  int exit_status = 0;
  double at_s = 0;
  std::string log_tail;
};

/// How a recovery wait ended: ok with the moment the cluster was whole again (the start of
/// the stable window), or failed saying what was still missing.
struct recovery {
  step_status status;
  std::chrono::steady_clock::time_point whole_since;
};

/// The processes under test: one etcd and the keel-node members, each node keeping its id
/// and data dir (`<work_dir>/<id>`, log `<work_dir>/<id>.log`) across restarts while its
/// process and ports change. Publishes the serving nodes to `targets` for the clients.
/// Thread safety: externally synchronized: only the fault loop's thread calls it (it forks,
/// and PR_SET_PDEATHSIG ties each child to that thread).
class cluster_under_test {
 public:
  cluster_under_test(cluster_config config, child_registry& registry, live_targets& targets,
                     progress_log& log);
  ~cluster_under_test();

  etcd_child& etcd() noexcept { return etcd_; }
  /// A node id never used in this run ("n4" after n1..n3).
  std::string fresh_node_id() const;
  /// Starts (or restarts, on its data dir) the node and waits for its listening line,
  /// retrying a start that exits (a binary being rebuilt, a registration not yet expired).
  step_status start_node(const std::string& id);
  /// Forks the node without waiting; finish with await_node().
  void spawn_node(const std::string& id);
  step_status await_node(const std::string& id, std::chrono::seconds limit);
  /// Takes the node out of the targets, then SIGKILLs and reaps it (stopped or not).
  void kill_node(const std::string& id);
  void stop_node(const std::string& id);
  void continue_node(const std::string& id);
  /// Takes the node out of the targets and expects its exit (after SIGTERM or a drain).
  void mark_leaving(const std::string& id);
  void signal_node(const std::string& id, int sig);
  /// Waits for a leaving node's exit; its status (also when check_crashes() reaped it
  /// already), or nullopt if it still runs after `limit`.
  std::optional<int> wait_node_exit(const std::string& id, std::chrono::milliseconds limit);

  /// The ids of the nodes expected to be members now (state running), sorted.
  std::vector<std::string> member_ids() const;
  /// HTTP targets of the running nodes.
  std::vector<target> running_targets() const;
  std::string coordinator() const;
  int port_of(const std::string& id) const;
  /// Waits until recovery_gap() has stayed empty for `stable` (a join's rebalance starts
  /// a moment after the new member shows up), restarting crashed nodes; calls `tick` every
  /// 100 ms or so. On success, publishes the running nodes as the clients' targets.
  recovery wait_recovered(std::chrono::milliseconds limit, std::chrono::milliseconds stable,
                          const std::function<void()>& tick);
  /// Reaps nodes that exited on their own; records each unexpected exit as a crash.
  void check_crashes();
  const std::vector<crash_record>& crashes() const noexcept { return crashes_; }
  void publish_targets();
  /// A keelctl child (stdout and stderr to `<work_dir>/keelctl.log`).
  std::unique_ptr<child_process> spawn_keelctl(const std::vector<std::string>& args);
  /// SIGKILLs every node, then etcd.
  void kill_all();

 private:
  struct node_slot;
  node_slot& slot(const std::string& id);
  const node_slot* find(const std::string& id) const;

  const cluster_config config_;
  child_registry& registry_;
  live_targets& targets_;
  progress_log& log_;
  etcd_child etcd_;
  std::vector<std::unique_ptr<node_slot>> nodes_;
  std::vector<crash_record> crashes_;
};

}  // namespace keel::chaos
