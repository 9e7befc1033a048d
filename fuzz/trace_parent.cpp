// W3C traceparent headers: a parsed trace id is never all zeros and prints back as the
// 32 lowercase hex digits it was read from.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keel/runtime/trace_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (auto trace = keel::trace_id::from_traceparent(text)) {
    if (!trace->valid()) __builtin_trap();
    auto hex = trace->to_hex();
    if (text.substr(3, 32) != hex) __builtin_trap();
  }
  if (auto trace = keel::trace_id::from_hex(text)) {
    if (trace->to_hex() != text) __builtin_trap();
  }
  return 0;
}
