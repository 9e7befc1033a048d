#include "keel/runtime/span_id.hpp"

#include <charconv>

#include <fmt/format.h>

#include "keel/runtime/detail/random64.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

span_id span_id::make() noexcept {
  return span_id{detail::random64() | 1};  // never zero, which means "no span"
}

std::optional<span_id> span_id::from_traceparent(std::string_view header) {
  if (!trace_id::from_traceparent(header)) return std::nullopt;
  // Checked above: version(2) '-' trace(32) '-' span(16, lowercase hex, not zero) '-' flags
  uint64_t value = 0;
  std::from_chars(header.data() + 36, header.data() + 52, value, 16);
  return span_id{value};
}

std::string span_id::to_hex() const {
  return fmt::format("{:016x}", value_);
}

}  // namespace keel
