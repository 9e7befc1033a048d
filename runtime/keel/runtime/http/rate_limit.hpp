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

/// The whole seconds, at least one, until a bucket holding `tokens` (fewer than one) has a
/// token again at `per_second`: a Retry-After. Saturates at the largest int for a rate so
/// slow that the wait does not fit one (a RATE of 1e-300): converting such a double to int
/// is undefined.
int seconds_until_token(double tokens, double per_second);

}  // namespace keel::http
