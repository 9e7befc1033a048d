#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace keel::rideshare {

/// How long a ride whose search found no driver waits before searching again: `first`
/// after the first empty search, twice as long after each further one, at most `longest`,
/// spread ±20 % by the ride's id so that rides requested together do not search together.
/// `attempt` counts the empty searches before this one (0 after the first).
/// Thread safety: a pure function.
std::chrono::milliseconds search_retry_delay(uint32_t attempt, std::string_view ride_id,
                                             std::chrono::milliseconds first,
                                             std::chrono::milliseconds longest);

}  // namespace keel::rideshare
