#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "keel/runtime/envelope.hpp"
#include "keel/runtime/metrics.hpp"

namespace keel::cluster {

/// Calls held on this node while their partition is moving, or while a replica of it is
/// caught up (DESIGN.md "Handoff"): kept per partition in arrival order, bounded, and
/// routed again when the partition's record changes or the catch-up ends. A held call past
/// its deadline has been answered by the deadline sweep and is never run.
/// Thread safety: thread-safe (one mutex).
class held_calls {
 public:
  /// At most `limit` calls are held (then `overloaded`); `held` counts every call held.
  /// Requires: `held` outlives this object.
  held_calls(size_t limit, counter& held) : limit_(limit), held_(held) {}

  /// Holds `env`, a call for partition `p`, if `still_needed()` says so; it runs under the
  /// lock that release() takes, so a move that ended since the caller looked cannot strand
  /// the call. False if it was not held (route it again). A full table, or a stopped one,
  /// answers the call instead (`overloaded`, `unavailable`), and returns true.
  bool hold(const envelope_ptr& env, uint32_t p, const std::function<bool()>& still_needed);

  /// Removes the calls held for `p` and passes each that is still unanswered to
  /// `redeliver`, in arrival order.
  void release(uint32_t p, const std::function<void(envelope_ptr)>& redeliver);

  /// Answers every held call, and every later one, `unavailable`: the node is stopping.
  void stop();

 private:
  const size_t limit_;
  counter& held_;
  std::mutex mutex_;
  std::map<uint32_t, std::deque<envelope_ptr>> calls_;  // mutex_
  size_t count_ = 0;                                    // mutex_
  bool stopping_ = false;                               // mutex_
};

}  // namespace keel::cluster
