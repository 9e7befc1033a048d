#include "json_value.hpp"

#include <cctype>
#include <charconv>

namespace keel::chaos {

/// A recursive-descent reader over one document. Confined to the parse() call.
class json_parser {
 public:
  explicit json_parser(std::string_view text) : text_(text) {}

  std::optional<json_value> document() {
    json_value out;
    if (!value(out, 0)) return std::nullopt;
    skip_space();
    if (pos_ != text_.size()) return std::nullopt;
    return out;
  }

 private:
  static constexpr int max_depth = 64;

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  bool eat(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool value(json_value& out, int depth) {
    if (depth > max_depth) return false;
    skip_space();
    if (pos_ >= text_.size()) return false;
    char c = text_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.kind_ = json_value::kind::string;
      return string(out.text_);
    }
    if (literal("true") || literal("false")) {
      out.kind_ = json_value::kind::boolean;
      out.text_ = c == 't' ? "true" : "false";
      return true;
    }
    if (literal("null")) return true;
    return number(out);
  }

  bool number(json_value& out) {
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) ||
            std::string_view{"+-.eE"}.find(text_[pos_]) != std::string_view::npos))
      ++pos_;
    if (pos_ == start) return false;
    out.kind_ = json_value::kind::number;
    out.text_ = std::string{text_.substr(start, pos_ - start)};
    return true;
  }

  bool object(json_value& out, int depth) {
    out.kind_ = json_value::kind::object;
    ++pos_;
    if (eat('}')) return true;
    do {
      skip_space();
      std::string name;
      if (!string(name) || !eat(':')) return false;
      json_value item;
      if (!value(item, depth + 1)) return false;
      out.names_.push_back(std::move(name));
      out.items_.push_back(std::move(item));
    } while (eat(','));
    return eat('}');
  }

  bool array(json_value& out, int depth) {
    out.kind_ = json_value::kind::array;
    ++pos_;
    if (eat(']')) return true;
    do {
      json_value item;
      if (!value(item, depth + 1)) return false;
      out.items_.push_back(std::move(item));
    } while (eat(','));
    return eat(']');
  }

  // Requires: at a '"' (after skip_space). Decodes escapes; \u becomes UTF-8.
  bool string(std::string& out) {
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u':
          if (!unicode(out)) return false;
          break;
        default:
          out += e;  // '"', '\\', '/'
      }
    }
    return false;
  }

  bool unicode(std::string& out) {
    if (pos_ + 4 > text_.size()) return false;
    unsigned code = 0;
    auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, code, 16);
    if (ec != std::errc{} || end != text_.data() + pos_ + 4) return false;
    pos_ += 4;
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {  // surrogate pairs are kept as two 3-byte sequences: only shown, never compared
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<json_value> json_value::parse(std::string_view text) {
  return json_parser{text}.document();
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
