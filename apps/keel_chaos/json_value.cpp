#include "json_value.hpp"

#include <charconv>
#include <type_traits>

#include <fmt/format.h>
#include <simdjson.h>

namespace keel::chaos {

/// Copies a document simdjson has parsed into json_value's own tree, which outlives the
/// parser's buffers. Stateless.
class json_parser {
 public:
  static constexpr int max_depth = 64;

  static bool copy(simdjson::dom::element in, json_value& out, int depth) {
    using simdjson::dom::element_type;
    if (depth > max_depth) return false;
    switch (in.type()) {
      case element_type::OBJECT: {
        out.kind_ = json_value::kind::object;
        simdjson::dom::object object;
        if (in.get(object)) return false;
        for (auto [name, value] : object) {
          json_value item;
          if (!copy(value, item, depth + 1)) return false;
          out.names_.emplace_back(name);
          out.items_.push_back(std::move(item));
        }
        return true;
      }
      case element_type::ARRAY: {
        out.kind_ = json_value::kind::array;
        simdjson::dom::array array;
        if (in.get(array)) return false;
        for (auto value : array) {
          json_value item;
          if (!copy(value, item, depth + 1)) return false;
          out.items_.push_back(std::move(item));
        }
        return true;
      }
      case element_type::STRING: {
        std::string_view text;
        if (in.get(text)) return false;
        out.kind_ = json_value::kind::string;
        out.text_ = text;
        return true;
      }
      // simdjson keeps an integer exact as int64 or uint64; only a fraction or an exponent
      // makes a double, printed as the shortest text that reads back as the same value.
      case element_type::INT64:
        return number<int64_t>(in, out);
      case element_type::UINT64:
        return number<uint64_t>(in, out);
      case element_type::DOUBLE:
        return number<double>(in, out);
      case element_type::BOOL: {
        bool flag = false;
        if (in.get(flag)) return false;
        out.kind_ = json_value::kind::boolean;
        out.text_ = flag ? "true" : "false";
        return true;
      }
      case element_type::NULL_VALUE:
        return true;
    }
    return false;
  }

 private:
  template <class Number>
  static bool number(simdjson::dom::element in, json_value& out) {
    Number n{};
    if (in.get(n)) return false;
    out.kind_ = json_value::kind::number;
    out.text_ = fmt::format("{}", n);
    // A double prints as "1500" if it has no fraction; ".0" keeps int_of() from taking it
    // for an int64, which it may not be exactly (above 2^53).
    if constexpr (std::is_floating_point_v<Number>)
      if (out.text_.find_first_of(".e") == std::string::npos) out.text_ += ".0";
    return true;
  }
};

std::optional<json_value> json_value::parse(std::string_view text) {
  // A parser must not be shared between threads, and every client thread parses answers;
  // one per thread also keeps its buffers from one document to the next. parse(data, size)
  // copies the text into the parser's own padded buffer.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size()).get(root)) return std::nullopt;
  json_value out;
  if (!json_parser::copy(root, out, 0)) return std::nullopt;
  return out;
}

const json_value* json_value::find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return &items_[i];
  return nullptr;
}

std::string json_value::text_of(std::string_view name) const {
  const json_value* v = find(name);
  return v ? v->text_ : std::string{};
}

std::optional<int64_t> json_value::int_of(std::string_view name) const {
  const json_value* v = find(name);
  if (!v || (v->kind_ != kind::string && v->kind_ != kind::number)) return std::nullopt;
  int64_t out = 0;
  const auto& t = v->text_;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
  return out;
}

}  // namespace keel::chaos
