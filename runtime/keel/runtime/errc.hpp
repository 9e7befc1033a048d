#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace keel {

/// The error codes every caller may see (DESIGN.md "Errors"). Each comment says what the
/// caller should do next. Codes cross nodes inside a caf::error, category "keel".
enum class errc : uint8_t {
  bad_payload = 1,     // malformed or invalid input (a request, or the type registry a
                       // node is started with); fix it, don't retry
  unauthenticated,     // no or wrong API key
  not_found,           // no such route or entity
  unknown_actor_type,  // no such type registered; retrying won't help
  unknown_message,     // the type has no handler for it; caller bug
  conflict,            // stale version or illegal transition; re-read, then decide
  payload_too_large,   // over the body limit
  rate_limited,        // back off for Retry-After
  app_error,           // the handler failed (or threw); state is the last committed one
  overloaded,          // admission refused; back off, then retry
  unavailable,         // owner down, fenced, stopping or moving: it did not run; retry
  timeout,             // no answer by the deadline: it may have run; retry only if idempotent
  unknown_outcome,     // the call was lost on its way back (its node or link died): it may
                       // have run; read before retrying, or retry only if idempotent
  method_not_allowed,  // the path exists, not with this method: use one the Allow header names
  http_version_not_supported,  // neither HTTP/1.1 nor HTTP/1.0; resend with HTTP/1.1
  forbidden,  // the API key is valid but its scope does not reach the route: use a key that
              // does; retrying with this one won't help
};

/// The last code: a code read from another node is valid only up to it. New codes go last,
/// so that a number means the same code on every node.
inline constexpr errc last_errc = errc::forbidden;

/// The code a node sent as a number; nullopt for one this build does not know.
std::optional<errc> errc_from_wire(uint8_t code) noexcept;

/// The wire name of a code, as it appears in `{"error":{"code":...}}`.
std::string_view code_name(errc code) noexcept;

/// The HTTP status DESIGN.md assigns to a code.
int http_status(errc code) noexcept;

/// Maps any caf::error (ours or CAF's own `sec`) to the closest Keel code. CAF's
/// `request_receiver_down` means the target went away before the turn: `unavailable`.
errc code_of(const caf::error& err) noexcept;

/// The human-readable message carried in a Keel error; CAF's own errors in words
/// ("cannot connect to node"), without CAF's rendering of their internals.
std::string message_of(const caf::error& err);

/// Builds a Keel error with a message for the caller.
caf::error make_error(errc code, std::string message);

}  // namespace keel

CAF_ERROR_CODE_ENUM(keel::errc, "keel")
