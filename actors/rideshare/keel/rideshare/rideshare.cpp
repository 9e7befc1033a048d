// The ride-sharing app's registration: every actor type, each in its own file.
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/actor_types.hpp"

namespace keel::rideshare {

void register_rideshare(type_registry& types, const rideshare_options& opts) {
  register_driver(types, opts);
  register_geo_index(types);
  register_quote(types, opts);
  register_rider(types, opts);
  register_alerts(types, opts);
  register_payment(types, opts);
  register_processor(types, opts);
  register_ride(types, opts);
  register_ride_key(types);
}

}  // namespace keel::rideshare
