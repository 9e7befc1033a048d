#pragma once

#include <optional>
#include <string_view>

#include <caf/expected.hpp>

namespace keel::http {

/// A token bucket's shape: `per_second` tokens flow in, up to `burst` banked.
/// A plain value; immutable once made, safe to share.
struct rate_limit {
  double per_second = 0;
  double burst = 0;
};

/// Parses `--rate-limit`: "off", or "N/s" / "N/m" with an optional ",burst=B" (default
/// burst: one second's worth). Bad text yields errc::bad_payload naming the problem.
[[nodiscard]] caf::expected<std::optional<rate_limit>> parse_rate_limit(std::string_view text);

}  // namespace keel::http
