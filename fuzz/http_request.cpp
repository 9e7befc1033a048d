// What else of a request and of a node's HTTP configuration the gateway decodes, beyond
// the path (http_path): the API keys file (`KEY SCOPE NAME [RATE]` lines, re-read on
// SIGHUP), rates (`--rate-limit`, a key's RATE) and the token buckets they shape, and a
// request's protocol checks (HTTP version, header names, Host) with its bearer token.
// The first byte picks the decoder, the second shapes the request; the rest is the text.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "keel/runtime/http/api_keys.hpp"
#include "keel/runtime/http/http_types.hpp"
#include "keel/runtime/http/key_usage.hpp"
#include "keel/runtime/http/rate_limit.hpp"
#include "keel/runtime/http/request_checks.hpp"

namespace {

using namespace keel::http;

// A bucket shaped by `limit`, drained at one instant and refilled a second later: a wait
// it names is a whole number of seconds, at least one.
void drain(const rate_limit& limit) {
  if (!(limit.per_second > 0) || !(limit.burst >= 1)) __builtin_trap();
  key_usage usage;
  auto& bucket = usage.of("k");
  keel::steady_time now{};
  for (int i = 0; i < 3; ++i)
    if (auto wait = bucket.take(limit, now); wait && *wait < 1) __builtin_trap();
  (void)bucket.take(limit, now + std::chrono::seconds{1});
}

void keys_file(std::string_view text, uint8_t) {
  auto table = api_key_table::parse(text, "keys");
  if (!table) return;
  if (table->size() == 0) __builtin_trap();
  // Every word may be presented as a key; a grant found has a name and a known scope.
  for (size_t at = 0; at < text.size();) {
    auto end = text.find_first_of(" \t\r\n", at);
    auto word = text.substr(at, end == std::string_view::npos ? text.npos : end - at);
    if (const auto* key = table->find(word)) {
      if (key->name.empty() || scope_name(key->scope).empty()) __builtin_trap();
      if (key->limit) drain(*key->limit);
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
}

void rate(std::string_view text, uint8_t) {
  auto limit = parse_rate_limit(text);
  if (limit && *limit) drain(**limit);
}

// "name: value" lines; `shape` gives the HTTP version.
void protocol(std::string_view text, uint8_t shape) {
  request req;
  req.http_major = shape >> 4;
  req.http_minor = shape & 0x0f;
  for (size_t at = 0; at <= text.size();) {
    auto end = text.find('\n', at);
    auto line = text.substr(at, end == std::string_view::npos ? text.npos : end - at);
    auto colon = line.find(':');
    if (colon != std::string_view::npos)
      req.headers.emplace_back(std::string{line.substr(0, colon)},
                               std::string{line.substr(colon + 1)});
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  (void)protocol_problem(req);
  if (auto token = bearer_token(req.header("authorization")); token && token->empty())
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr void (*decoders[])(std::string_view, uint8_t) = {keys_file, rate, protocol};
  if (size < 2) return 0;
  decoders[data[0] % std::size(decoders)]({reinterpret_cast<const char*>(data + 2), size - 2},
                                          data[1]);
  return 0;
}
