#include "keel/runtime/http/owner_headers.hpp"

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/partition_directory.hpp"

namespace keel::http {

void add_owner_headers(const node_runtime& rt, exchange& ex, const actor_id& target) {
  const auto* directory = rt.directory();
  if (!directory) return;  // a single node: its clients know where they are
  auto where = directory->locate(target.partition());
  if (!where || where->owner.empty()) return;
  ex.add_header("Keel-Owner", where->owner);
  if (!where->owner_http_address.empty())
    ex.add_header("Keel-Owner-Address", where->owner_http_address);
}

}  // namespace keel::http
