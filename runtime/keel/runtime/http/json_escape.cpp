// JSON text written by hand: escaped strings, and the error body every failed request gets.

#include <cstdio>

#include "keel/runtime/http/json.hpp"
#include "keel/runtime/utf8.hpp"

namespace keel::http {

std::string json_escape(std::string_view s) {
  // JSON text is UTF-8: an ill-formed byte echoed from a request (a raw one in a path that
  // matched no route) is printed as U+FFFD, so every body stays valid JSON.
  if (auto bad = invalid_utf8_at(s)) {
    std::string out;
    for (; bad; bad = invalid_utf8_at(s)) {
      out += json_escape(s.substr(0, *bad));
      out += "\\ufffd";
      s.remove_prefix(*bad + 1);
    }
    return out + json_escape(s);
  }
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

std::string error_body(std::string_view code, std::string_view message) {
  return R"({"error":{"code":")" + json_escape(code) + R"(","message":")" + json_escape(message) +
         "\"}}";
}

}  // namespace keel::http
