#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace keel {

/// Where `text` stops being well-formed UTF-8 (Unicode 15, table 3-7): the offset of the
/// first byte of the first ill-formed sequence (an overlong form such as C0 AF, a
/// surrogate, a code point over U+10FFFF, a stray continuation byte, a sequence cut short),
/// or nullopt when all of it is well-formed.
///
/// Every key and string that reaches a protobuf `string` field must pass: a proto3 parser
/// refuses the whole message when one of them is ill-formed, so one bad key stored inside
/// another actor's state would make that state unreadable.
std::optional<size_t> invalid_utf8_at(std::string_view text) noexcept;

/// No ill-formed sequence in `text`.
inline bool valid_utf8(std::string_view text) noexcept {
  return !invalid_utf8_at(text);
}

}  // namespace keel
