#include "sim_options.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "keel/runtime/errc.hpp"

namespace keel::sim {

namespace {

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::string endpoint::authority() const {
  // Only an IPv6 address has a colon; the brackets keep its colons apart from the port's.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

caf::expected<endpoint> parse_endpoint(std::string_view text) {
  auto invalid = [text](std::string_view why) {
    return make_error(errc::bad_payload, "'" + std::string{text} + "': " + std::string{why});
  };
  auto rest = text;
  bool https = rest.starts_with("https://");
  if (https)
    rest.remove_prefix(8);
  else if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  std::string host;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return invalid("'[' without its ']'");
    host = std::string{rest.substr(1, close - 1)};
    if (host.empty()) return invalid("no host between '[' and ']'");
    unsigned char bytes[16];
    if (::inet_pton(AF_INET6, host.c_str(), bytes) != 1)
      return invalid("'" + host + "' in brackets is not an IPv6 address");
    rest.remove_prefix(close + 1);
    if (!rest.starts_with(':')) return invalid("no :port after ']'");
    port_text = rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return invalid("no :port");
    host = std::string{rest.substr(0, colon)};
    if (host.empty()) return invalid("no host before :port");
    // "::1:8080" could be read more than one way; URLs bracket IPv6 for that reason.
    if (host.find(':') != std::string::npos)
      return invalid("an IPv6 address goes in brackets, e.g. [::1]:8080");
    port_text = rest.substr(colon + 1);
  }
  auto port = parse_int(port_text);
  if (!port) return invalid("the port is not a number");
  if (*port <= 0 || *port > 65535) return invalid("the port is not in 1-65535");
  return endpoint{std::move(host), static_cast<int>(*port), {}, https, {}};
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
