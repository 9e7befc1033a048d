// Quotes: a stateless worker pool that prices a trip.
#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

void register_quote(type_registry& types, const rideshare_options& opts) {
  auto rule = opts.fare;
  types.add_stateless(std::string{quote_type}, 4)
      .on<QuoteRequest>([rule](const QuoteRequest& m, context&) {
        auto q = quote_fare(to_point(m.pickup()), to_point(m.dropoff()), rule);
        Quote out;
        out.set_fare_cents(q.fare_cents);
        out.set_distance_meters(q.distance_meters);
        out.set_eta_seconds(q.eta_seconds);
        return out;
      });
}

}  // namespace keel::rideshare
