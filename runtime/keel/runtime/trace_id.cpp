#include "keel/runtime/trace_id.hpp"

#include <fmt/format.h>

#include "keel/runtime/detail/random64.hpp"

namespace keel {

namespace {

std::optional<uint64_t> parse_hex64(std::string_view hex) {
  uint64_t value = 0;
  for (char c : hex) {
    value <<= 4;
    if (c >= '0' && c <= '9')
      value |= static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      value |= static_cast<uint64_t>(c - 'a' + 10);
    else
      return std::nullopt;  // W3C requires lowercase hex
  }
  return value;
}

}  // namespace

trace_id trace_id::make() {
  trace_id id{detail::random64(), detail::random64()};
  if (!id.valid()) id.lo_ = 1;
  return id;
}

std::optional<trace_id> trace_id::from_traceparent(std::string_view header) {
  // version(2) '-' trace(32) '-' span(16) '-' flags(2)
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-')
    return std::nullopt;
  if (header.substr(0, 2) == "ff") return std::nullopt;
  auto hi = parse_hex64(header.substr(3, 16));
  auto lo = parse_hex64(header.substr(19, 16));
  auto span = parse_hex64(header.substr(36, 16));
  if (!hi || !lo || !span || !parse_hex64(header.substr(53, 2)) ||
      !parse_hex64(header.substr(0, 2)))
    return std::nullopt;
  trace_id id{*hi, *lo};
  if (!id.valid() || *span == 0) return std::nullopt;
  return id;
}

std::optional<trace_id> trace_id::from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  auto hi = parse_hex64(hex.substr(0, 16));
  auto lo = parse_hex64(hex.substr(16, 16));
  if (!hi || !lo) return std::nullopt;
  trace_id id{*hi, *lo};
  if (!id.valid()) return std::nullopt;
  return id;
}

std::string trace_id::to_hex() const {
  return fmt::format("{:016x}{:016x}", hi_, lo_);
}

std::string trace_id::to_traceparent() const {
  auto span = detail::random64() | 1;
  return fmt::format("00-{:016x}{:016x}-{:016x}-01", hi_, lo_, span);
}

}  // namespace keel
