#include "keel/runtime/span_id.hpp"

#include <fmt/format.h>

#include "keel/runtime/detail/random64.hpp"

namespace keel {

span_id span_id::make() noexcept {
  return span_id{detail::random64() | 1};  // never zero, which means "no span"
}

std::string span_id::to_hex() const {
  return fmt::format("{:016x}", value_);
}

}  // namespace keel
