#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace google::protobuf {
class Message;
}

namespace keel::http {

/// Parses a JSON body into `out` with protobuf's JSON mapping; an empty body means `{}`.
/// Unknown fields and wrong types fail with errc::bad_payload naming the field in the
/// API's camelCase (`pickup.lat`), and so do strings that are not well-formed UTF-8 and
/// numbers that an integer field cannot hold exactly as written (json_body_check.hpp).
[[nodiscard]] caf::error parse_json(std::string_view body, google::protobuf::Message& out);

/// Prints `m` as DESIGN.md's JSON section says: camelCase names, zeros printed.
std::string to_json(const google::protobuf::Message& m);

/// `{"error":{"code":"...","message":"..."}}`.
std::string error_body(std::string_view code, std::string_view message);

/// Escapes `s` as the contents of a JSON string (without the quotes).
std::string json_escape(std::string_view s);

/// "rider_id" → "riderId"; dots separate path segments and are kept.
std::string camel_case(std::string_view snake);

}  // namespace keel::http
