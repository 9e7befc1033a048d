#pragma once

#include <string_view>

namespace google::protobuf {
class Message;
}

namespace keel::http {

/// Reads `body` into `out` exactly as protobuf's JSON parser would, for the common cases
/// of protobuf's JSON mapping: objects with camelCase or proto field names, each field
/// once; integers as JSON integers in range; doubles as numbers; enums by name; strings;
/// bools; nested messages and arrays of these. False (with `out` partly written) for
/// anything else (maps, null, numbers in strings, floats, ill-formed JSON or UTF-8, ...):
/// the caller then clears `out` and hands the body to protobuf's parser, which words the
/// error. Thread-safe (one simdjson parser per thread).
/// Requires: `out` is empty, and json.cpp's handled_directly() holds for its type.
bool read_json_directly(std::string_view body, google::protobuf::Message& out);

}  // namespace keel::http
