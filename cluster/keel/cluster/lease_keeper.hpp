#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <caf/error.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/membership_options.hpp"
#include "keel/runtime/node_fence.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class etcd_client;

/// This node's registration, `keel/<cluster>/members/<node-id>`, and the lease it is held
/// under, kept alive from the keeper's own thread; and the fence that follows from it. The
/// key is written only if absent. The fence is open from the send time of the last
/// keepalive that etcd answered with TTL > 0, plus TTL, minus the margin; it closes at once
/// when the key is deleted, and stays closed until the node has registered again. Before
/// the first registration the fence is closed ("not registered yet"), so a node can start
/// its runtime and HTTP server first and register with the addresses they got.
/// Thread safety: thread-safe. register_once() and start() once, from the thread that
/// joins; stop() (idempotent) from any thread but the keeper's own.
class lease_keeper final : public node_fence {
 public:
  /// Called on the keeper's thread, with its etcd client, after each wake-up while this
  /// node is registered and before the keepalive it sends then.
  using tick_fn = std::function<void(etcd_client&)>;

  /// Requires: `opts.clock` and `opts.wall` are set.
  lease_keeper(const membership_options& opts, std::string own_key,
               std::shared_ptr<spdlog::logger> log);
  ~lease_keeper() override;
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  /// Registers `me` (its lease and start time are filled in here). A node id registered by
  /// a live process is refused with `conflict`; an unreachable etcd is `unavailable`.
  caf::error register_once(etcd_client& etcd, Member me);
  /// Starts the keepalive thread, which registers again whenever the key is lost.
  void start(tick_fn on_tick);
  /// Wakes the keeper's thread now rather than at its next keepalive, to run its tick.
  void wake();
  /// The member key was deleted at `revision`. Returns whether that deleted the current
  /// registration (and not an older one, which is history): then the fence closes and the
  /// keeper registers again.
  bool own_key_deleted(int64_t revision);
  /// Closes the fence for good and joins the keeper's thread. Idempotent.
  void stop();
  /// Closes the fence now: the registration is being given up.
  void close();

  /// The lease of the current (or last) registration; 0 before the first.
  int64_t lease() const noexcept { return lease_.load(); }

  bool is_open() const noexcept override;
  std::string why_closed() const override;

 private:
  void keepalive_loop();
  /// opts_.clock's time, in the unit valid_until_ns_ holds.
  int64_t now_ns() const noexcept;
  /// One keepalive round trip; returns how long to wait before the next.
  std::chrono::milliseconds keep_alive(etcd_client& etcd, bool& failing);

  // Fixed at construction.
  const membership_options opts_;
  const std::string own_key_;
  const std::shared_ptr<spdlog::logger> log_;
  // Written by register_once(): on the joining thread until start(), then only on the
  // keeper's thread (which registers again with it).
  Member me_;
  tick_fn on_tick_;  // set by start(), before the keeper's thread starts

  // The fence: open while the key is ours and the lease cannot have expired.
  std::atomic<bool> registered_{false};
  std::atomic<int64_t> valid_until_ns_{0};  // on opts_.clock

  std::atomic<int64_t> lease_{0};
  std::atomic<int64_t> own_revision_{0};  // the etcd revision of our current registration
  // The revision of the latest deletion of our key that own_key_deleted() reported (0: none
  // pending); the loop registers again if it is newer than its registration.
  std::atomic<int64_t> lost_key_revision_{0};
  std::atomic<bool> woken_{false};  // set by wake(); the loop runs its tick
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace keel::cluster
