#include "keel/runtime/http/json.hpp"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "keel/runtime/errc.hpp"

namespace keel::http {

std::string camel_case(std::string_view snake) {
  std::string out;
  out.reserve(snake.size());
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

namespace {

// Protobuf's parser says "(pickup.lat): invalid value ..." or "(pickup) zzz: Cannot find
// field." with proto field names; the API speaks camelCase and names the field first.
std::string describe_parse_error(std::string_view text) {
  std::string path;
  std::string_view rest = text;
  if (!rest.empty() && rest.front() == '(') {
    auto close = rest.find(')');
    if (close != std::string_view::npos) {
      path = camel_case(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
      if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
  }
  constexpr std::string_view unknown = ": Cannot find field.";
  if (rest.size() > unknown.size() && rest.ends_with(unknown)) {
    auto name = std::string{rest.substr(0, rest.size() - unknown.size())};
    auto field = path.empty() ? name : path + "." + name;
    return "unknown field '" + field + "'";
  }
  if (!path.empty()) return "field '" + path + "': " + std::string{rest};
  auto newline = rest.find('\n');
  return "malformed JSON: " + std::string{rest.substr(0, newline)};
}

}  // namespace

caf::error parse_json(std::string_view body, google::protobuf::Message& out) {
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) return {};
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece{body.data(), body.size()}, &out, options);
  if (status.ok()) return {};
  return make_error(errc::bad_payload, describe_parse_error(status.message().as_string()));
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!status.ok()) return error_body("app_error", "reply cannot be printed as JSON");
  return out;
}

std::string json_escape(std::string_view s) {
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
