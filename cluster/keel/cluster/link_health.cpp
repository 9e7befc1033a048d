#include "keel/cluster/link_health.hpp"

namespace keel::cluster {

std::string_view link_health::name(state s) noexcept {
  switch (s) {
    case state::connecting:
      return "connecting";
    case state::connected:
      return "connected";
    case state::suspected:
      return "suspected";
    case state::unreachable:
      return "unreachable";
    case state::stopped:
      return "stopped";
  }
  return "stopped";
}

void link_health::set(state s, std::chrono::steady_clock::time_point now) {
  auto before = state_.exchange(s, std::memory_order_acq_rel);
  if (before == state::connected && s != state::connected)
    lost_at_.store(now.time_since_epoch().count(), std::memory_order_release);
}

std::chrono::milliseconds link_health::unreachable_for(
    std::chrono::steady_clock::time_point now) const {
  if (current() == state::connected) return std::chrono::milliseconds{0};
  auto since = std::chrono::steady_clock::time_point{
      std::chrono::steady_clock::duration{lost_at_.load(std::memory_order_acquire)}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - since);
}

}  // namespace keel::cluster
