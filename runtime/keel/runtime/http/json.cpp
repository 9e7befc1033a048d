#include "keel/runtime/http/json.hpp"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/json_util.h>
#include <simdjson.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/json_body_check.hpp"
#include "keel/runtime/utf8.hpp"

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
using google::protobuf::Reflection;

// Whether the direct printer and reader below cover every field of `d`, recursively:
// proto3 messages without well-known types (whose JSON forms are special) and bytes
// (base64). A type met again further down (a recursive type) is judged where it was met
// first.
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

// Protobuf's JSON printer escapes more than JSON requires ('<', '>', non-ASCII forms); a
// string with anything but these characters goes to protobuf's printer instead.
bool plain_json_char(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>';
}

// protobuf's SimpleDtoa / SimpleFtoa: the shortest of "%.{15,17}g" ("%.{6,9}g" for
// floats) that reads back as the same value.
void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG, v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG + 2, v);
  out += buf;
}

void append_float(std::string& out, float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG, static_cast<double>(v));
  if (std::strtof(buf, nullptr) != v)
    std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 3, static_cast<double>(v));
  out += buf;
}

// Prints protobuf's JSON mapping with the options to_json() gives protobuf's printer
// (camelCase names, zeros printed, fields in declaration order), the same bytes for every
// message it accepts; false (with `out` partly written) for a value it leaves to protobuf:
// a string outside plain_json_char, a non-finite number.
class direct_printer {
 public:
  explicit direct_printer(std::string& out) : out_(out) {}

  bool message(const Message& m) {
    const auto* d = m.GetDescriptor();
    const auto* r = m.GetReflection();
    out_ += '{';
    bool first = true;
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (!f->is_repeated() && (f->message_type() || f->containing_oneof()) && !r->HasField(m, f))
        continue;  // fields with presence print only when set
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += f->json_name();
      out_ += "\":";
      if (f->is_map()) {
        if (!map(m, r, f)) return false;
      } else if (f->is_repeated()) {
        out_ += '[';
        int n = r->FieldSize(m, f);
        for (int k = 0; k < n; ++k) {
          if (k > 0) out_ += ',';
          if (!value(m, r, f, k)) return false;
        }
        out_ += ']';
      } else if (!value(m, r, f, -1)) {
        return false;
      }
    }
    out_ += '}';
    return true;
  }

 private:
  bool map(const Message& m, const Reflection* r, const FieldDescriptor* f) {
    const auto* key_field = f->message_type()->map_key();
    const auto* value_field = f->message_type()->map_value();
    out_ += '{';
    int n = r->FieldSize(m, f);
    for (int k = 0; k < n; ++k) {
      const auto& entry = r->GetRepeatedMessage(m, f, k);
      const auto* er = entry.GetReflection();
      if (k > 0) out_ += ',';
      // JSON object keys are strings: numbers and bools print quoted.
      if (key_field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        if (!value(entry, er, key_field, -1)) return false;
      } else {
        out_ += '"';
        if (!scalar_unquoted(entry, er, key_field)) return false;
        out_ += '"';
      }
      out_ += ':';
      if (!value(entry, er, value_field, -1)) return false;
    }
    out_ += '}';
    return true;
  }

  // A map key's number or bool, as text.
  bool scalar_unquoted(const Message& m, const Reflection* r, const FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        out_ += std::to_string(r->GetInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        out_ += std::to_string(r->GetInt64(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        out_ += std::to_string(r->GetUInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_ += std::to_string(r->GetUInt64(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += r->GetBool(m, f) ? "true" : "false";
        return true;
      default:
        return false;
    }
  }

  // One value of field `f`: element `index` of a repeated field, or the singular value
  // (index < 0).
  bool value(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
    const bool rep = index >= 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        out_ += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        out_ += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        out_ += '"';
        out_ += std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
        out_ += '"';
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_ += '"';
        out_ += std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
        out_ += '"';
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
        if (!std::isfinite(v)) return false;
        append_double(out_, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float v = rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
        if (!std::isfinite(v)) return false;
        append_float(out_, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
        return true;
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
        const auto* named = f->enum_type()->FindValueByNumber(number);
        if (!named) {
          out_ += std::to_string(number);
          return true;
        }
        return string(named->name());
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const auto& v = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                            : r->GetStringReference(m, f, &scratch);
        return string(v);
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return message(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
    }
    return false;
  }

  bool string(std::string_view v) {
    for (unsigned char c : v)
      if (!plain_json_char(c)) return false;
    out_ += '"';
    out_ += v;
    out_ += '"';
    return true;
  }

  std::string& out_;
};

// Reads the common cases of protobuf's JSON mapping into `out` exactly as protobuf's parser
// would: objects with camelCase or proto field names, each field once; integers as JSON
// integers in range; doubles as numbers; enums by name; strings; bools; nested messages and
// arrays of these. False for anything else (maps, null, numbers in strings, floats, ...):
// the caller then hands the body to protobuf's parser.
class direct_reader {
 public:
  static bool message(simdjson::dom::object object, Message& out) {
    const auto* d = out.GetDescriptor();
    const auto* r = out.GetReflection();
    for (auto [key, value] : object) {
      const auto* f = field_named(d, key);
      if (!f || f->is_map()) return false;
      if (f->is_repeated() ? r->FieldSize(out, f) > 0 : r->HasField(out, f))
        return false;  // named twice
      if (const auto* oneof = f->containing_oneof(); oneof && r->HasOneof(out, oneof)) return false;
      if (!f->is_repeated()) {
        if (!store(out, r, f, value)) return false;
        // Proto3 fields without presence hold nothing for a zero: HasField cannot tell a
        // second mention from the first then, so zeros are left to protobuf.
        if (!f->has_presence() && !r->HasField(out, f)) return false;
        continue;
      }
      simdjson::dom::array items;
      if (value.get(items)) return false;
      for (auto item : items)
        if (!store(out, r, f, item)) return false;
      if (items.size() == 0) return false;  // as above: an empty list leaves no trace
    }
    return true;
  }

 private:
  // Protobuf's parser takes a field's JSON name or its proto name.
  static const FieldDescriptor* field_named(const Descriptor* d, std::string_view key) {
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (f->json_name() == key || f->name() == key) return f;
    }
    return nullptr;
  }

  template <class Int>
  static bool integer(simdjson::dom::element value, Int& out) {
    if (value.is_int64()) {
      int64_t v = value.get_int64().value_unsafe();
      if (v < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
          (v > 0 && static_cast<uint64_t>(v) > std::numeric_limits<Int>::max()))
        return false;
      out = static_cast<Int>(v);
      return true;
    }
    if (value.is_uint64()) {
      uint64_t v = value.get_uint64().value_unsafe();
      if (v > std::numeric_limits<Int>::max()) return false;
      out = static_cast<Int>(v);
      return true;
    }
    return false;
  }

  static bool real(simdjson::dom::element value, double& out) {
    if (!value.is_number()) return false;
    out = value.get_double().value_unsafe();
    return std::isfinite(out);
  }

  // Stores `value` in field `f`: appended to a repeated field, or set.
  static bool store(Message& m, const Reflection* r, const FieldDescriptor* f,
                    simdjson::dom::element value) {
    const bool append = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!integer(value, v)) return false;
        append ? r->AddInt32(&m, f, v) : r->SetInt32(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!integer(value, v)) return false;
        append ? r->AddInt64(&m, f, v) : r->SetInt64(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!integer(value, v)) return false;
        append ? r->AddUInt32(&m, f, v) : r->SetUInt32(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!integer(value, v)) return false;
        append ? r->AddUInt64(&m, f, v) : r->SetUInt64(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (!real(value, v)) return false;
        append ? r->AddDouble(&m, f, v) : r->SetDouble(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (value.get(v)) return false;
        append ? r->AddBool(&m, f, v) : r->SetBool(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        std::string_view name;
        if (value.get(name)) return false;
        const auto* named = f->enum_type()->FindValueByName(std::string{name});
        if (!named) return false;
        append ? r->AddEnumValue(&m, f, named->number()) : r->SetEnumValue(&m, f, named->number());
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string_view text;
        if (value.get(text)) return false;
        append ? r->AddString(&m, f, std::string{text}) : r->SetString(&m, f, std::string{text});
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        simdjson::dom::object object;
        if (value.get(object)) return false;
        return message(object, append ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f));
      }
      default:
        return false;  // floats: protobuf's own double-to-float rules
    }
  }
};

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
  // Protobuf 3.21's parser goes through a type resolver and a binary re-encoding (8 % of
  // keel-node's CPU for a durable Increment over HTTP). Plain bodies are read directly;
  // anything else, errors included, is protobuf's, which words the error.
  if (handled_directly(out.GetDescriptor())) {
    thread_local simdjson::dom::parser parser;
    simdjson::padded_string padded{body};
    simdjson::dom::object object;
    out.Clear();
    if (!parser.parse(padded).get(object) && direct_reader::message(object, out)) return {};
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
// resolver (~10 µs for a ride); the direct printer walks the message once by reflection.
std::string to_json(const google::protobuf::Message& m) {
  if (handled_directly(m.GetDescriptor())) {
    std::string out;
    out.reserve(128);
    if (direct_printer{out}.message(m)) return out;
  }
  return protobuf_json(m);
}

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
