#include "keel/runtime/http/json.hpp"

#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/json_body_check.hpp"
#include "keel/runtime/http/json_printer.hpp"
#include "keel/runtime/http/json_reader.hpp"

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

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Whether the direct printer and reader (json_printer.hpp, json_reader.hpp) cover every
// field of `d`, recursively: proto3 messages without well-known types (whose JSON forms are
// special) and bytes (base64). A type met again further down (a recursive type) is judged
// where it was met first.
bool fields_handled_directly(const Descriptor* d, std::unordered_set<const Descriptor*>& visiting) {
  if (!visiting.insert(d).second) return true;
  if (d->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3 ||
      d->full_name().starts_with("google.protobuf."))
    return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_BYTES) return false;
    if (f->message_type() && !fields_handled_directly(f->message_type(), visiting)) return false;
  }
  return true;
}

// fields_handled_directly, computed once per message type and thread: no lock on the
// request path, and no thread ever sees a verdict that is still being worked out.
bool handled_directly(const Descriptor* d) {
  thread_local std::unordered_map<const Descriptor*, bool> known;
  auto [it, inserted] = known.try_emplace(d, false);
  if (inserted) {
    std::unordered_set<const Descriptor*> visiting;
    it->second = fields_handled_directly(d, visiting);
  }
  return it->second;
}

std::string protobuf_json(const Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!status.ok()) return error_body("app_error", "reply cannot be printed as JSON");
  return out;
}

// What a JSON text starting with `c` is, when it is not an object; nullptr for an object
// or a text no JSON value starts with (left to the parsers' own words).
const char* json_value_kind(char c) {
  switch (c) {
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    case '-':
      return "a number";
    default:
      return c >= '0' && c <= '9' ? "a number" : nullptr;
  }
}

}  // namespace

caf::error parse_json(std::string_view body, google::protobuf::Message& out) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  // Protobuf words this "Root element must be a message." after an empty field path.
  // Well-known types have JSON forms of their own ("1.5s" for a Duration).
  auto kind = json_value_kind(body[first]);
  if (kind && !out.GetDescriptor()->full_name().starts_with("google.protobuf."))
    return make_error(errc::bad_payload,
                      "the body must be a JSON object (or empty), not " + std::string{kind});
  // Protobuf 3.21's parser goes through a type resolver and a binary re-encoding, a cost
  // every request would pay. Plain bodies are read directly; anything else, errors
  // included, is protobuf's, which words the error.
  if (handled_directly(out.GetDescriptor())) {
    out.Clear();
    if (read_json_directly(body, out)) return {};
    out.Clear();
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece{body.data(), body.size()}, &out, options);
  // The direct reader takes only exact integers, and simdjson only well-formed UTF-8;
  // protobuf's parser rounds some numbers and words its UTF-8 errors without the field.
  if (auto problem = json_body_problem(body, *out.GetDescriptor())) {
    out.Clear();
    return make_error(errc::bad_payload, *problem);
  }
  if (status.ok()) return {};
  return make_error(errc::bad_payload, describe_parse_error(status.message().as_string()));
}

// Protobuf 3.21's printer serializes the message and converts the bytes through a type
// resolver; the direct printer walks the message once by reflection.
std::string to_json(const google::protobuf::Message& m) {
  if (handled_directly(m.GetDescriptor())) {
    std::string out;
    out.reserve(128);
    if (print_json_directly(m, out)) return out;
  }
  return protobuf_json(m);
}

}  // namespace keel::http
