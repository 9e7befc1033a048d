#include "sim_options.hpp"

#include <charconv>

namespace keel::sim {

namespace {

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<endpoint> parse_endpoint(std::string_view text) {
  bool https = text.starts_with("https://");
  if (https)
    text.remove_prefix(8);
  else if (text.starts_with("http://"))
    text.remove_prefix(7);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  auto port = parse_int(text.substr(colon + 1));
  if (!port || *port <= 0 || *port > 65535) return std::nullopt;
  return endpoint{std::string{text.substr(0, colon)}, static_cast<int>(*port), {}, https, {}};
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  auto number = parse_int(text.substr(0, digits));
  if (!number) return std::nullopt;
  auto unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds{*number};
  if (unit == "s") return std::chrono::seconds{*number};
  if (unit == "m") return std::chrono::minutes{*number};
  return std::nullopt;
}

}  // namespace keel::sim
