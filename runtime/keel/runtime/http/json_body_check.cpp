#include "keel/runtime/http/json_body_check.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "keel/runtime/http/json.hpp"
#include "keel/runtime/utf8.hpp"

namespace keel::http {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// One level of the place a JSON value is read at: a member of an object (`key`, as sent) or
// an element of an array (`index`).
struct json_level {
  bool object;
  std::string key;
  size_t index;
  bool expect_key;  // an object's next string is a member name
};

// A string (or member name) or a number of a JSON text, where it was read.
struct json_token {
  enum kind_t { string, name, number } kind;
  std::string_view text;  // a string's raw bytes between the quotes, or the number as written
  bool lone_surrogate;    // a string with a \u escape of an unpaired surrogate
};

// The code unit of the four hex digits at `at`; nullopt if they are not four hex digits.
std::optional<unsigned> hex4(std::string_view body, size_t at) {
  if (at + 4 > body.size()) return std::nullopt;
  unsigned v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = body[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(digit);
  }
  return v;
}

// A JSON string as written: its raw bytes between the quotes, whether a \u escape in it is
// an unpaired surrogate, and where the text goes on after its closing quote.
struct scanned_string {
  std::string_view text;
  bool lone_surrogate = false;
  size_t end = 0;
};

// The string whose first byte (after the opening quote) is at `start`; nullopt if it is not
// terminated.
std::optional<scanned_string> scan_string(std::string_view body, size_t start) {
  size_t pos = start;
  bool lone = false;
  while (pos < body.size() && body[pos] != '"') {
    if (body[pos] != '\\') {
      ++pos;
    } else if (pos + 1 < body.size() && body[pos + 1] == 'u') {
      auto unit = hex4(body, pos + 2);
      pos += 6;
      if (unit && *unit >= 0xd800 && *unit <= 0xdbff) {
        // A high surrogate counts only followed by an escaped low one.
        auto low = body.substr(pos).starts_with("\\u") ? hex4(body, pos + 2) : std::nullopt;
        if (low && *low >= 0xdc00 && *low <= 0xdfff)
          pos += 6;
        else
          lone = true;
      } else if (unit && *unit >= 0xdc00 && *unit <= 0xdfff) {
        lone = true;
      }
    } else {
      pos += 2;
    }
  }
  if (pos >= body.size()) return std::nullopt;
  return scanned_string{body.substr(start, pos - start), lone, pos + 1};
}

enum class structure_step { go_on, lost, stray_byte };

// Applies one character outside strings and numbers to the path of levels: `lost` where
// the text cannot be followed, `stray_byte` for a non-ASCII byte outside any string.
structure_step follow_structure(char c, std::vector<json_level>& levels) {
  switch (c) {
    case '{':
      levels.push_back({true, {}, 0, true});
      return structure_step::go_on;
    case '[':
      levels.push_back({false, {}, 0, false});
      return structure_step::go_on;
    case '}':
    case ']':
      if (levels.empty()) return structure_step::lost;
      levels.pop_back();
      return structure_step::go_on;
    case ',':
      if (levels.empty()) return structure_step::lost;
      if (levels.back().object)
        levels.back().expect_key = true;
      else
        ++levels.back().index;
      return structure_step::go_on;
    case ':':
      if (levels.empty() || !levels.back().object) return structure_step::lost;
      levels.back().expect_key = false;
      return structure_step::go_on;
    default:
      return static_cast<unsigned char>(c) >= 0x80 ? structure_step::stray_byte
                                                   : structure_step::go_on;
  }
}

// Walks a JSON text token by token, keeping the path of the value being read, and hands
// each string, member name and number to `visit(token, levels)`; returns the first message
// `visit` returns. Not a parser: it stops quietly at text it cannot follow (the parsers
// word that error), and answers only where the parsers' own messages name no field or
// their conversions lose what was written.
template <class Visit>
std::optional<std::string> walk_json(std::string_view body, Visit&& visit) {
  std::vector<json_level> levels;
  size_t pos = 0;
  while (pos < body.size()) {
    char c = body[pos];
    if (c == '"') {
      auto str = scan_string(body, pos + 1);
      if (!str) return std::nullopt;  // unterminated
      pos = str->end;
      bool is_name = !levels.empty() && levels.back().object && levels.back().expect_key;
      if (auto problem = visit(json_token{is_name ? json_token::name : json_token::string,
                                          str->text, str->lone_surrogate},
                               std::as_const(levels)))
        return problem;
      if (is_name) levels.back().key = std::string{str->text};
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = pos;
      while (pos < body.size() &&
             std::string_view{"+-.eE0123456789"}.find(body[pos]) != std::string_view::npos)
        ++pos;
      if (auto problem =
              visit(json_token{json_token::number, body.substr(start, pos - start), false},
                    std::as_const(levels)))
        return problem;
      continue;
    }
    switch (follow_structure(c, levels)) {
      case structure_step::go_on:
        ++pos;
        break;
      case structure_step::lost:
        return std::nullopt;
      case structure_step::stray_byte:
        return "malformed JSON: byte " + std::to_string(pos) +
               " is not valid UTF-8 and lies outside any string";
    }
  }
  return std::nullopt;
}

// The first `count` levels as the API names a field: `pickup.lat`, `names[2]`.
std::string field_path(const std::vector<json_level>& levels, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < levels.size(); ++i) {
    const auto& level = levels[i];
    if (level.object) {
      if (!out.empty()) out += '.';
      out += camel_case(level.key);
    } else {
      out += '[' + std::to_string(level.index) + ']';
    }
  }
  return out;
}

// Both parsers refuse ill-formed UTF-8 and lone-surrogate escapes, but name no field
// ("Encountered non UTF-8 code points.").
std::optional<std::string> unicode_problem(const json_token& token,
                                           const std::vector<json_level>& levels) {
  if (token.kind == json_token::number || (!token.lone_surrogate && valid_utf8(token.text)))
    return std::nullopt;
  if (token.kind == json_token::name) {
    auto where = field_path(levels, levels.size() - 1);
    return "a field name in " + (where.empty() ? "the body" : "'" + where + "'") +
           " is not valid UTF-8";
  }
  auto field = field_path(levels, levels.size());
  if (field.empty()) return "the body is a string that is not valid UTF-8";
  return "field '" + field + "': not valid UTF-8";
}

// The field of `root` that a number read at `levels` goes into: nullptr when the levels
// lead nowhere (the parser refuses that), or into a well-known type other than a wrapper.
const FieldDescriptor* number_field(const Descriptor* root, const std::vector<json_level>& levels) {
  const Descriptor* message = root;       // reading an object of this message's fields
  const FieldDescriptor* list = nullptr;  // or the elements of this repeated field
  const FieldDescriptor* map = nullptr;   // or the values of this map field
  const FieldDescriptor* target = nullptr;
  for (const auto& level : levels) {
    if (target) return nullptr;  // a scalar's place holds a container
    const FieldDescriptor* f = nullptr;
    if (message && level.object) {
      for (int i = 0; i < message->field_count() && !f; ++i)
        if (message->field(i)->json_name() == level.key || message->field(i)->name() == level.key)
          f = message->field(i);
      if (!f) return nullptr;
      message = nullptr;
      if (f->is_map()) {
        map = f;
        continue;
      }
      if (f->is_repeated()) {
        list = f;
        continue;
      }
    } else if (map && level.object) {
      f = map->message_type()->map_value();
      map = nullptr;
    } else if (list && !level.object) {
      f = list;
      list = nullptr;
    } else {
      return nullptr;
    }
    const auto* type = f->message_type();
    if (!type) {
      target = f;
    } else if (type->full_name().starts_with("google.protobuf.")) {
      // A wrapper's JSON form is its value; other well-known types hold no integers.
      if (!type->full_name().ends_with("Value") || !type->FindFieldByName("value")) return nullptr;
      target = type->FindFieldByName("value");
    } else {
      message = type;
    }
  }
  return target;
}

// Protobuf's parser reads a number with a fraction or an exponent, or an integer beyond
// int64, as a double, and stores it in an integer field when that double is integral and
// in range: -9223372036854775809 became INT64_MIN, 9007199254740993.0 became ...992. The
// number as written must be that integer, exactly.
std::optional<std::string> integer_problem(const json_token& token,
                                           const std::vector<json_level>& levels,
                                           const Descriptor* root) {
  if (token.kind != json_token::number) return std::nullopt;
  const auto* field = number_field(root, levels);
  if (!field) return std::nullopt;
  uint64_t max = 0, negative_max = 0;  // magnitudes
  const char* type = "";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      max = INT32_MAX, negative_max = uint64_t{INT32_MAX} + 1, type = "int32";
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      max = INT64_MAX, negative_max = uint64_t{INT64_MAX} + 1, type = "int64";
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      max = UINT32_MAX, type = "uint32";
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      max = UINT64_MAX, type = "uint64";
      break;
    default:
      return std::nullopt;
  }
  auto text = token.text;
  auto prefix = "field '" + field_path(levels, levels.size()) + "': " + std::string{text};
  bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  auto exp_at = text.find_first_of("eE");
  auto mantissa = text.substr(0, exp_at);
  int64_t exponent = 0;
  if (exp_at != std::string_view::npos) {
    auto e = text.substr(exp_at + 1);
    if (e.starts_with('+')) e.remove_prefix(1);
    auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), exponent);
    if (ec != std::errc{} || end != e.data() + e.size() || e.empty()) return std::nullopt;
    // Far beyond any integer either way; kept small enough to add digit counts to.
    exponent = std::clamp<int64_t>(exponent, -1'000'000'000, 1'000'000'000);
  }
  auto dot = mantissa.find('.');
  std::string digits{mantissa.substr(0, dot)};
  if (dot != std::string_view::npos) {
    auto fraction = mantissa.substr(dot + 1);
    digits += fraction;
    exponent -= static_cast<int64_t>(fraction.size());
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;  // not a JSON number: the parser says so
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  while (exponent < 0 && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  if (digits.empty()) return std::nullopt;  // zero
  if (exponent < 0) return prefix + " is not an integer";
  if (exponent > 20 - static_cast<int64_t>(digits.size()))
    return prefix + " is out of range for " + type;
  digits.append(static_cast<size_t>(exponent), '0');
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
  if (ec != std::errc{} || magnitude > (negative ? negative_max : max))
    return prefix + " is out of range for " + type;
  bool plain = token.text.find_first_of(".eE") == std::string_view::npos;
  // Plain integers in range are read as integers; the rest go through a double.
  auto as_double = static_cast<double>(magnitude);
  if (!plain &&
      (as_double >= 18446744073709551616.0 || static_cast<uint64_t>(as_double) != magnitude))
    return prefix + " cannot be read exactly (past 2^53 a number with a fraction or an " +
           "exponent is rounded): write it as a plain integer";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> json_body_problem(std::string_view body, const Descriptor& root) {
  return walk_json(body, [&root](const json_token& token, const std::vector<json_level>& levels) {
    if (auto problem = unicode_problem(token, levels)) return problem;
    return integer_problem(token, levels, &root);
  });
}

}  // namespace keel::http
