#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/expected.hpp>

#include "keel/runtime/http/rate_limit.hpp"

namespace keel::http {

/// What an API key may call. Ordered: a key reaches every route that needs its scope or a
/// lower one (public < partner < admin).
enum class api_scope : uint8_t {
  public_ = 1,  // `public` in the keys file; trailing underscore: `public` is a keyword
  partner,
  admin,
};

/// The name of a scope as the keys file and error messages write it.
std::string_view scope_name(api_scope scope) noexcept;

/// One key's grant, without the key itself: only its SHA-256 is kept, so nothing the node
/// logs, renders or answers can carry the key.
struct api_key {
  std::string name;  // for metrics and logs: [A-Za-z0-9_.-], at most 64 characters
  api_scope scope = api_scope::admin;
  std::optional<rate_limit> limit;  // nullopt: --rate-limit applies
};

/// The API keys a node accepts, as read from its keys file (`--api-keys-file`), one key a
/// line: `KEY SCOPE NAME [RATE]`, or a key alone (scope admin, named `line-N`); `#` starts
/// a comment. A presented key is looked up by its SHA-256 and the digests compared in
/// constant time, so the time an answer takes says nothing about how much of a key was
/// right.
/// Immutable once parsed; safe to share between threads. The gateway swaps whole tables
/// when the file is read again (SIGHUP).
class api_key_table {
 public:
  /// Parses the text of a keys file; `source` names it in errors. A malformed line is
  /// errc::bad_payload naming `source:line` and what is wrong (never the key); so is a
  /// text without any key.
  [[nodiscard]] static caf::expected<api_key_table> parse(std::string_view text,
                                                          std::string_view source);
  /// Reads and parses the file at `path`; unreadable is errc::bad_payload too.
  [[nodiscard]] static caf::expected<api_key_table> read_file(const std::string& path);

  /// The grant of `presented`, or nullptr for an unknown key. The pointer lives as long as
  /// this table.
  const api_key* find(std::string_view presented) const;

  size_t size() const noexcept { return by_digest_.size(); }

 private:
  std::unordered_map<std::string, api_key> by_digest_;  // key: SHA-256 of the key, raw bytes
};

}  // namespace keel::http
