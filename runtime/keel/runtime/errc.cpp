#include "keel/runtime/errc.hpp"

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace keel {

std::string_view code_name(errc code) noexcept {
  switch (code) {
    case errc::bad_payload:
      return "bad_payload";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::not_found:
      return "not_found";
    case errc::unknown_actor_type:
      return "unknown_actor_type";
    case errc::unknown_message:
      return "unknown_message";
    case errc::conflict:
      return "conflict";
    case errc::payload_too_large:
      return "payload_too_large";
    case errc::rate_limited:
      return "rate_limited";
    case errc::app_error:
      return "app_error";
    case errc::overloaded:
      return "overloaded";
    case errc::unavailable:
      return "unavailable";
    case errc::timeout:
      return "timeout";
    case errc::unknown_outcome:
      return "unknown_outcome";
    case errc::method_not_allowed:
      return "method_not_allowed";
    case errc::http_version_not_supported:
      return "http_version_not_supported";
    case errc::forbidden:
      return "forbidden";
  }
  return "app_error";
}

int http_status(errc code) noexcept {
  switch (code) {
    case errc::bad_payload:
      return 400;
    case errc::unauthenticated:
      return 401;
    case errc::forbidden:
      return 403;
    case errc::not_found:
    case errc::unknown_actor_type:
    case errc::unknown_message:
      return 404;
    case errc::conflict:
      return 409;
    case errc::payload_too_large:
      return 413;
    case errc::rate_limited:
      return 429;
    case errc::app_error:
      return 500;
    case errc::overloaded:
    case errc::unavailable:
      return 503;
    case errc::timeout:
    case errc::unknown_outcome:
      return 504;
    case errc::method_not_allowed:
      return 405;
    case errc::http_version_not_supported:
      return 505;
  }
  return 500;
}

std::optional<errc> errc_from_wire(uint8_t code) noexcept {
  if (code < 1 || code > static_cast<uint8_t>(last_errc)) return std::nullopt;
  return static_cast<errc>(code);
}

errc code_of(const caf::error& err) noexcept {
  if (!err) return errc::app_error;  // an empty error has no category to read
  if (err.category() == caf::atom("keel"))
    if (auto code = errc_from_wire(err.code())) return *code;
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return errc::timeout;
      case caf::sec::request_receiver_down:
      case caf::sec::cannot_connect_to_node:
        return errc::unavailable;
      case caf::sec::unexpected_message:
        return errc::unknown_message;
      default:
        break;
    }
  }
  return errc::app_error;
}

namespace {

// "cannot_connect_to_node" -> "cannot connect to node".
std::string words(std::string name) {
  for (auto& c : name)
    if (c == '_') c = ' ';
  return name;
}

}  // namespace

std::string message_of(const caf::error& err) {
  // An empty error (an actor's normal exit) has no category to read.
  if (!err) return "no error";
  const auto& ctx = err.context();
  // CAF's own errors in words, without its rendering of their internals.
  if (err.category() == caf::atom("system"))
    return words(caf::to_string(static_cast<caf::sec>(err.code())));
  if (err.category() == caf::atom("exit"))
    return words(caf::to_string(static_cast<caf::exit_reason>(err.code())));
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), caf::atom("keel"),
                    caf::make_message(std::move(message))};
}

}  // namespace keel
