#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace google::protobuf {
class Descriptor;
}

namespace keel::http {

/// What protobuf's JSON parser refuses without naming the field, or accepts though the
/// message would not hold what was written, for a body read as a `root` message: the first
/// string that is not well-formed UTF-8 (`field 'riderId': not valid UTF-8`), or the first
/// number that an integer field cannot hold exactly as written (`field 'by':
/// -9223372036854775809 is out of range for int64`, which the parser rounds to INT64_MIN).
/// nullopt when there is neither. A walk over the text, not a parser: any other error in
/// the body is left to the parser's own words.
std::optional<std::string> json_body_problem(std::string_view body,
                                             const google::protobuf::Descriptor& root);

}  // namespace keel::http
