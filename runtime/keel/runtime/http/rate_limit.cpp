#include "keel/runtime/http/rate_limit.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "keel/runtime/errc.hpp"

namespace keel::http {

caf::expected<std::optional<rate_limit>> parse_rate_limit(std::string_view text) {
  if (text.empty() || text == "off") return std::optional<rate_limit>{};
  auto bad = [&](std::string why) {
    return make_error(errc::bad_payload, "rate limit '" + std::string{text} + "': " + why +
                                             " (e.g. 100/s,burst=200 or off)");
  };
  double rate = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (ec != std::errc{} || !(rate > 0)) return bad("rate must be a positive number");
  std::string_view rest{end, static_cast<size_t>(text.data() + text.size() - end)};
  double per_second = 0;
  if (rest.starts_with("/s"))
    per_second = rate;
  else if (rest.starts_with("/m"))
    per_second = rate / 60.0;
  else
    return bad("unit must be /s or /m");
  rest.remove_prefix(2);
  double burst = std::max(1.0, per_second);
  if (!rest.empty()) {
    constexpr std::string_view burst_prefix = ",burst=";
    if (!rest.starts_with(burst_prefix)) return bad("expected ',burst=N' after the rate");
    rest.remove_prefix(burst_prefix.size());
    auto [bend, bec] = std::from_chars(rest.data(), rest.data() + rest.size(), burst);
    if (bec != std::errc{} || bend != rest.data() + rest.size() || !(burst >= 1))
      return bad("burst must be a number >= 1");
  }
  return std::optional<rate_limit>{rate_limit{per_second, burst}};
}

int seconds_until_token(double tokens, double per_second) {
  auto wait = std::ceil((1 - tokens) / per_second);
  if (!(wait < static_cast<double>(std::numeric_limits<int>::max())))
    return std::numeric_limits<int>::max();
  return std::max(1, static_cast<int>(wait));
}

}  // namespace keel::http
