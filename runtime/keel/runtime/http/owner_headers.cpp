#include "keel/runtime/http/owner_headers.hpp"

#include <string>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/partition_directory.hpp"

namespace keel::http {

namespace {

// "host:port" as a URL writes it: a node registers "advertise-host:port" as is, and an
// IPv6 host needs its brackets to be told from the port ("[::1]:8081", RFC 3986).
std::string authority(const std::string& registered) {
  auto colon = registered.rfind(':');
  if (colon == std::string::npos || registered.starts_with('[') || registered.find(':') == colon)
    return registered;
  return "[" + registered.substr(0, colon) + "]" + registered.substr(colon);
}

}  // namespace

void add_owner_headers(const node_runtime& rt, exchange& ex, const actor_id& target) {
  const auto* directory = rt.directory();
  if (!directory) return;  // a single node: its clients know where they are
  auto where = directory->locate(target.partition());
  // Both or neither: an owner no longer registered (its lease ran out) has no address.
  if (!where || where->owner.empty() || where->owner_http_address.empty()) return;
  // Not on a 5xx answer: the owner may be down, and a client must not be sent there.
  ex.add_header("Keel-Owner", where->owner, exchange::on_answers::served);
  ex.add_header("Keel-Owner-Address", authority(where->owner_http_address),
                exchange::on_answers::served);
}

}  // namespace keel::http
