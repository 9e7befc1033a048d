#include "keel/rideshare/search_backoff.hpp"

#include <algorithm>
#include <string>

#include "keel/runtime/actor_id.hpp"

namespace keel::rideshare {

std::chrono::milliseconds search_retry_delay(uint32_t attempt, std::string_view ride_id,
                                             std::chrono::milliseconds first,
                                             std::chrono::milliseconds longest) {
  auto doubled = first * (int64_t{1} << std::min<uint32_t>(attempt, 20));
  auto base = std::min(doubled, longest);
  // FNV-1a, not std::hash: the spread must be the same on every node and every build, so a
  // moved ride keeps its schedule. 0..40: -20..+20 %.
  auto spread = fnv1a64(std::to_string(attempt), fnv1a64(ride_id)) % 41;
  return base * (80 + static_cast<int64_t>(spread)) / 100;
}

}  // namespace keel::rideshare
