#pragma once

#include <chrono>
#include <cstddef>

#include "keel/runtime/envelope.hpp"

namespace keel::detail {

/// Decides when the node's sweeper evicts idle activations early because the node nears its
/// activation limit, and how many: above the high-water mark (90 % of the limit) a round is
/// due every `period`, asking the longest-idle activations to leave until the count would
/// be back at the low-water mark (80 %). Rounds stop once the count is below the high-water
/// mark. Thread safety: none; only the sweeper's thread uses it.
class eviction_pacer {
 public:
  /// Requires: `limit` > 0.
  eviction_pacer(size_t limit, std::chrono::milliseconds period);

  /// How many activations to ask to leave now (0: none), given `live` at `now`.
  size_t due(size_t live, steady_time now);

  size_t high_water() const noexcept { return high_water_; }
  size_t low_water() const noexcept { return low_water_; }

 private:
  size_t high_water_;
  size_t low_water_;
  std::chrono::milliseconds period_;
  steady_time next_round_{};
};

}  // namespace keel::detail
