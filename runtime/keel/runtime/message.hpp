#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/expected.hpp>

namespace google::protobuf {
class Descriptor;
class Message;
}  // namespace google::protobuf

namespace keel {

/// A protobuf message shared between the caller and the callee. Locally the object itself
/// travels (never serialized); it is serialized only when it crosses a node boundary.
/// Immutable once sent; safe to share between threads.
using message_ptr = std::shared_ptr<const google::protobuf::Message>;

/// The outcome of one call: the reply message or an error with a Keel code.
using call_result = caf::expected<message_ptr>;

/// Deadlines are steady-clock instants (never the wall clock: node clocks jump).
using steady_time = std::chrono::steady_clock::time_point;

}  // namespace keel

namespace keel {

/// The message's bytes with map entries in key order, so equal messages give equal bytes
/// (for "did the state change?" and for content hashes).
std::string serialize_deterministic(const google::protobuf::Message& m);

}  // namespace keel
