#include "keel/runtime/http/url_authority.hpp"

namespace keel::http {

std::string url_authority(const std::string& registered) {
  auto colon = registered.rfind(':');
  // No port, already bracketed, or one colon only (a name or IPv4 address): as it is.
  if (colon == std::string::npos || registered.starts_with('[') || registered.find(':') == colon)
    return registered;
  return "[" + registered.substr(0, colon) + "]" + registered.substr(colon);
}

}  // namespace keel::http
