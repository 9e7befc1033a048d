#include "keel/runtime/http/owner_headers.hpp"

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/url_authority.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/partition_directory.hpp"

namespace keel::http {

void add_owner_headers(const node_runtime& rt, exchange& ex, const actor_id& target) {
  const auto* directory = rt.directory();
  if (!directory) return;  // a single node: its clients know where they are
  auto where = directory->locate(target.partition());
  // Both or neither: an owner no longer registered (its lease ran out) has no address.
  if (!where || where->owner.empty() || where->owner_http_address.empty()) return;
  // Not on a 5xx answer: the owner may be down, and a client must not be sent there.
  ex.add_header("Keel-Owner", where->owner, exchange::on_answers::served);
  ex.add_header("Keel-Owner-Address", url_authority(where->owner_http_address),
                exchange::on_answers::served);
}

}  // namespace keel::http
