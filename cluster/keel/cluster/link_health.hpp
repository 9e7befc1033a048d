#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace keel::cluster {

/// What a link knows of its peer right now, for GET /v1/cluster and /readyz.
/// Thread safety: written by the link's actor only, read by any thread.
class link_health {
 public:
  enum class state : uint8_t {
    connecting,   // no connection yet, or reconnecting after one dropped
    connected,    // connected, and the peer answers heartbeats
    suspected,    // connected, but the peer stopped answering heartbeats (hung or cut)
    unreachable,  // the last connection attempt failed
    stopped,      // the link actor is gone: the directory replaces it
  };

  /// `made_at`: when the link was made, on the link's clock; it counts as lost since then
  /// until it first connects.
  explicit link_health(std::chrono::steady_clock::time_point made_at)
      : lost_at_(made_at.time_since_epoch().count()) {}

  static std::string_view name(state s) noexcept;

  /// Records `s`, and when the link stopped being connected. Times are the link's clock's
  /// (monotonic_clock::now()).
  void set(state s, std::chrono::steady_clock::time_point now);
  state current() const noexcept { return state_.load(std::memory_order_acquire); }
  /// How long the link has not been connected (since it was made, or since it was last
  /// connected); zero while it is.
  std::chrono::milliseconds unreachable_for(std::chrono::steady_clock::time_point now) const;

 private:
  std::atomic<state> state_{state::connecting};
  // When the link stopped being connected (or was made), in steady_clock ticks.
  std::atomic<int64_t> lost_at_;
};

}  // namespace keel::cluster
