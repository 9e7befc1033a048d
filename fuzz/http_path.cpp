// A request line's path and Authorization value as the gateway takes them apart: segments,
// percent-decoded parameters (UTF-8, control characters, length), the bearer token.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keel/runtime/http/request_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto segments = keel::http::split_path(text);
  static const std::vector<std::string> pattern{"v1", "actors", "{type}", "{key}", "{message}"};
  if (segments.size() == pattern.size()) {
    std::vector<std::pair<std::string, std::string>> params;
    auto why = keel::http::decode_params(segments, pattern, params);
    if (why.empty() && params.size() != 3) __builtin_trap();  // accepted, yet not all decoded
  }
  (void)keel::http::bearer_token(text);
  return 0;
}
