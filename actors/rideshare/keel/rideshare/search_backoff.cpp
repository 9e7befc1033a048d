#include "keel/rideshare/search_backoff.hpp"

#include <algorithm>
#include <string>

namespace keel::rideshare {

namespace {

// FNV-1a: the spread must be the same on every node and every build (std::hash is not
// specified), so a moved ride keeps its schedule.
uint64_t fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::chrono::milliseconds search_retry_delay(uint32_t attempt, std::string_view ride_id,
                                             std::chrono::milliseconds first,
                                             std::chrono::milliseconds longest) {
  auto doubled = first * (int64_t{1} << std::min<uint32_t>(attempt, 20));
  auto base = std::min(doubled, longest);
  auto spread = fnv1a(std::to_string(attempt), fnv1a(ride_id)) % 41;  // 0..40: -20..+20 %
  return base * (80 + static_cast<int64_t>(spread)) / 100;
}

}  // namespace keel::rideshare
