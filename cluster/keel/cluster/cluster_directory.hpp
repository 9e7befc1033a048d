#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "keel/runtime/partition_directory.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class node_runtime;
}

namespace keel::cluster {

class membership;

/// The cluster's partition directory (DESIGN.md "Routing"): routes every message by the
/// partition table that `members` follows in etcd. A partition this node owns is delivered
/// here; one owned by another up member is forwarded over CAF's middleman to that node's
/// endpoint (the payload serialized only there); one whose owner is not a member answers
/// `unavailable` at once and is never reassigned; one never placed waits while a thread of
/// this directory places it in etcd, then goes where the table says. Calls forwarded to a
/// peer fail with `unavailable` as soon as the link to that peer goes down.
/// Failure detection: every member gets a link that stays connected (CAF heartbeats on, so
/// a hung peer's link drops too). When a link drops, it reconnects at once; if the peer's
/// port refuses, the process is gone, and the coordinator revokes that node's lease, so
/// every node sees it leave the member list within milliseconds rather than at lease expiry.
/// Thread safety: route() is thread-safe; publish() and stop() are called by the node's
/// main thread.
class cluster_directory final : public partition_directory {
 public:
  /// Requires: `members`, `runtime` and `sys` outlive the directory.
  cluster_directory(membership& members, node_runtime& runtime, caf::actor_system& sys,
                    std::shared_ptr<spdlog::logger> log);
  ~cluster_directory() override;

  /// Publishes this node's endpoint on `host:port` (0: pick one); returns the port.
  caf::expected<uint16_t> publish(const std::string& host, uint16_t port);

  verdict route(const envelope_ptr& env) override;
  std::optional<placement> locate(uint32_t partition) const override;
  void gather_turns(const trace_id& trace,
                    std::function<void(std::vector<turn_row>)> done) override;

  /// Stops placing and forwarding; pending and held calls fail with `unavailable`.
  void stop();

 private:
  void placer_loop();
  void watch_members();
  /// Writes the epoch of every partition this node owns that its DB has not recorded yet;
  /// false if the write failed.
  bool record_owned_partitions();
  /// A link lost its peer and the reconnect was refused (called on the link's thread).
  void suspect(const std::string& node_id);
  void forward(const envelope_ptr& env, const std::string& owner, uint64_t epoch);
  caf::actor link_to(const std::string& node_id, const std::string& cluster_address);

  membership& members_;
  node_runtime& runtime_;
  caf::actor_system& sys_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string self_;
  caf::actor endpoint_;

  std::atomic<bool> forwarding_stopped_{false};
  std::mutex links_mutex_;
  std::map<std::string, std::pair<std::string, caf::actor>> links_;  // node id -> address, link

  // Envelopes of partitions nobody placed yet, waiting for the placer thread. Bounded: past
  // the bound a call fails at once with `overloaded`.
  static constexpr size_t max_held = 10000;
  std::mutex held_mutex_;
  std::condition_variable held_cv_;
  std::deque<envelope_ptr> held_;          // guarded by held_mutex_
  std::vector<std::string> suspects_;      // guarded by held_mutex_
  std::map<uint32_t, uint64_t> recorded_;  // partition epochs in the DB; placer thread only
  int64_t recorded_revision_ = -1;  // the table revision recorded_ reflects; placer thread only
  bool stopping_ = false;           // guarded by held_mutex_
  std::thread placer_;
};

}  // namespace keel::cluster
