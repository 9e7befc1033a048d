#pragma once

#include <string>

namespace google::protobuf {
class Message;
}

namespace keel::http {

/// Appends `m` to `out` as protobuf's JSON printer prints it with to_json()'s options
/// (camelCase names, zeros printed, fields in declaration order), the same bytes, by one
/// walk over the message's reflection. False (with `out` partly written) for a value it
/// leaves to protobuf: a string outside the characters both print alike, a non-finite
/// number. Thread-safe (no shared state).
/// Requires: json.cpp's handled_directly() holds for `m`'s type (proto3, no well-known
/// types, no bytes).
bool print_json_directly(const google::protobuf::Message& m, std::string& out);

}  // namespace keel::http
