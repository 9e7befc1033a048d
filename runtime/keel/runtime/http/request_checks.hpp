#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "keel/runtime/http/http_types.hpp"

namespace keel::http {

/// The non-empty segments of a path: "/v1//a/" is {"v1", "a"}.
std::vector<std::string_view> split_path(std::string_view path);

/// Decodes the segments captured by `{name}` in `pattern` (a route's segments, of the same
/// count) into `out` as (name, value). Returns why a parameter is refused (a bad escape, a
/// control character, ill-formed UTF-8, more than max_key_bytes), or empty.
std::string decode_params(const std::vector<std::string_view>& segments,
                          const std::vector<std::string>& pattern,
                          std::vector<std::pair<std::string, std::string>>& out);

/// What makes a request malformed before any route looks at it: an HTTP version other than
/// 1.0 and 1.1 (errc::http_version_not_supported), a header name that is not a token, or
/// an HTTP/1.1 request without exactly one Host (errc::bad_payload). nullopt if none.
std::optional<caf::error> protocol_problem(const request& req);

/// The token of an `Authorization: Bearer <token>` value: the scheme in any case, then one
/// or more spaces (RFC 9110 11.1). nullopt for any other value.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace keel::http
