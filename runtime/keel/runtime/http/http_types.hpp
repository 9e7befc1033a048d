#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::http {

/// One parsed HTTP request, owned by its handler. Header names are lowercase; values have
/// no whitespace around them.
/// Immutable after parsing; confined to the thread handling it unless copied.
struct request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string query;   // after '?', raw
  int http_major = 1;
  int http_minor = 1;
  std::string client;  // the peer's address
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first value of header `name` (lowercase), or empty.
  std::string_view header(std::string_view name) const;
};

/// One HTTP response.
struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends the response of one request; call exactly once, from any thread.
using responder = std::function<void(response)>;

/// Handles one request; must arrange for `respond` to be called exactly once.
using request_handler = std::function<void(request, responder)>;

}  // namespace keel::http
