#pragma once

#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"

namespace keel {
class type_registry;
}

namespace keel::rideshare {

// The registration of each actor type of the app, one file each (architecture.md, "Actor
// types"); register_rideshare (rideshare.cpp) calls them all. Requires: `types` not yet
// serving.
void register_driver(type_registry& types, const rideshare_options& opts);
void register_geo_index(type_registry& types);  // cell and area
void register_quote(type_registry& types, const rideshare_options& opts);
void register_ride(type_registry& types, const rideshare_options& opts);
void register_ride_key(type_registry& types);
void register_rider(type_registry& types, const rideshare_options& opts);
void register_alerts(type_registry& types, const rideshare_options& opts);
void register_payment(type_registry& types, const rideshare_options& opts);
void register_processor(type_registry& types, const rideshare_options& opts);

inline point to_point(const LatLng& p) {
  return {p.lat(), p.lng()};
}

}  // namespace keel::rideshare
