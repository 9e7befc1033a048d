#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::chaos {

/// One parsed JSON value, as much of JSON as the checks read in a node's answers
/// (`/v1/cluster`, `{"value":"N"}`, `{"error":{"code":...}}`): simdjson parses, and the
/// result is copied into this tree so it outlives the parser's buffers. An integer number
/// keeps its exact digits (simdjson reads it as an int64 or uint64, not a double).
/// Thread safety: immutable once parsed; safe to share.
class json_value {
 public:
  enum class kind { null, boolean, number, string, array, object };

  /// Parses a whole document; nullopt if `text` is not valid JSON (UTF-8 checked too) or
  /// nests deeper than 64.
  static std::optional<json_value> parse(std::string_view text);

  kind type() const noexcept { return kind_; }
  /// A string's decoded text, a number as printed (an integer's exact digits; a double
  /// always with a '.' or an exponent), or "true"/"false"; empty otherwise.
  const std::string& text() const noexcept { return text_; }
  /// An array's elements, or an object's member values; empty otherwise.
  const std::vector<json_value>& items() const noexcept { return items_; }
  /// The member named `name` of an object; nullptr if absent or not an object.
  const json_value* find(std::string_view name) const;
  /// The text of member `name` (string, number or boolean); empty if absent.
  std::string text_of(std::string_view name) const;
  /// The member `name` read as an int64 (a JSON string or number); nullopt otherwise.
  std::optional<int64_t> int_of(std::string_view name) const;

 private:
  friend class json_parser;
  kind kind_ = kind::null;
  std::string text_;
  std::vector<json_value> items_;
  std::vector<std::string> names_;  // an object's member names, parallel to items_
};

}  // namespace keel::chaos
