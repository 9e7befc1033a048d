// Idempotency keys of POST /v1/rides.
#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

// Idempotency-Key records of POST /v1/rides: one actor per key, so records are durable
// and move with their partition, and two requests with one key are serialized. The key is
// bound to a ride id before the ride is asked for anything: however the first request ends
// (even in a timeout), a retry reaches the same ride, whose RequestRide is idempotent.
void register_ride_key(type_registry& types) {
  types.add_type<IdempotencyRecord>(std::string{ride_key_type})
      .on<ClaimRideKey>([](const ClaimRideKey& m, context& ctx) -> caf::expected<RideKeyClaim> {
        RideKeyClaim out;
        const auto& record = ctx.view<IdempotencyRecord>();
        if (!record.ride_id().empty()) {
          if (record.body_hash() != m.body_hash())
            return make_error(errc::conflict, "Idempotency-Key was used with another body");
          out.set_replayed(true);
          out.set_ride_id(record.ride_id());
          return out;
        }
        auto& rec = ctx.state<IdempotencyRecord>();
        rec.set_body_hash(m.body_hash());
        rec.set_ride_id(m.ride_id());
        out.set_ride_id(m.ride_id());
        return out;
      });
}

}  // namespace keel::rideshare
