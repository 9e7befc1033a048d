#include "keel/runtime/http/request_checks.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/utf8.hpp"

namespace keel::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    // Control characters (NUL above all) would corrupt storage keys, which use NUL as a
    // separator: refused here, at the edge.
    if (hi < 0 || lo < 0 || hi * 16 + lo < 0x20 || hi * 16 + lo == 0x7f) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// RFC 9110 5.6.2: a header name is a token.
bool token_char(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(static_cast<char>(c)) != std::string_view::npos;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  out.reserve(8);
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string decode_params(const std::vector<std::string_view>& segments,
                          const std::vector<std::string>& pattern,
                          std::vector<std::pair<std::string, std::string>>& out) {
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& pat = pattern[i];
    if (pat.front() != '{') continue;
    auto name = pat.substr(1, pat.size() - 2);
    auto decoded = percent_decode(segments[i]);
    if (!decoded || decoded->empty())
      return "path parameter '" + name + "' has a bad escape or a control character";
    // Parameters become actor keys and protobuf strings (a driver's id in a ride's
    // state): one ill-formed string makes the whole record unreadable later.
    if (!valid_utf8(*decoded)) return "path parameter '" + name + "' is not valid UTF-8";
    if (decoded->size() > max_key_bytes)
      return "path parameter '" + name + "' is longer than " + std::to_string(max_key_bytes) +
             " bytes";
    out.emplace_back(std::move(name), std::move(*decoded));
  }
  return {};
}

// RFC 9112 3.2: exactly one Host in HTTP/1.1.
std::optional<caf::error> protocol_problem(const request& req) {
  if (req.http_major != 1 || req.http_minor > 1)
    return make_error(errc::http_version_not_supported,
                      fmt::format("HTTP/{}.{} is not supported; use HTTP/1.1 or HTTP/1.0",
                                  req.http_major, req.http_minor));
  size_t hosts = 0;
  for (const auto& [name, value] : req.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
          return token_char(static_cast<unsigned char>(c));
        }))
      return make_error(errc::bad_payload, "header name '" + name + "' is not a token");
    hosts += name == "host";
  }
  if (hosts > 1) return make_error(errc::bad_payload, "more than one Host header");
  if (hosts == 0 && req.http_minor == 1)
    return make_error(errc::bad_payload, "an HTTP/1.1 request needs a Host header");
  return std::nullopt;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() ||
      !ascii_iequal(authorization.substr(0, scheme.size()), scheme) ||
      authorization[scheme.size()] != ' ')
    return std::nullopt;
  auto token = authorization.substr(scheme.size());
  token.remove_prefix(token.find_first_not_of(' ') == std::string_view::npos
                          ? token.size()
                          : token.find_first_not_of(' '));
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace keel::http
