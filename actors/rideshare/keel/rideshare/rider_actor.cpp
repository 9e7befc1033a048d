// The rider: its unfinished rides and a bounded history, kept by the rides' one-way updates.
#include <algorithm>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

void register_rider(type_registry& types, const rideshare_options& opts) {
  int kept = opts.history_kept;
  types.add_type<RiderState>(std::string{rider_type})
      .partition_key(std::string{rider_placement_name}, rider_placement)
      .on<RideUpdate>([kept](const RideUpdate& m, context& ctx) {
        const auto& view = ctx.view<RiderState>();
        const auto& open = view.unfinished();
        bool is_open = std::find(open.begin(), open.end(), m.ride_id()) != open.end();
        bool finished = m.status() == Ride::completed || m.status() == Ride::cancelled;
        if (finished == !is_open) return Done{};  // nothing new: a repeat, or a late update
        auto& st = ctx.state<RiderState>();
        auto* unfinished = st.mutable_unfinished();
        if (finished) {
          unfinished->erase(std::find(unfinished->begin(), unfinished->end(), m.ride_id()));
        } else {
          // First sight of a ride: it joins the history (newest first, bounded).
          *unfinished->Add() = m.ride_id();
          auto* h = st.mutable_history();
          *h->Add() = m.ride_id();
          for (int i = h->size() - 1; i > 0; --i) h->SwapElements(i, i - 1);
          while (h->size() > kept) h->RemoveLast();
        }
        st.set_active_ride(unfinished->empty() ? "" : *unfinished->rbegin());
        return Done{};
      })
      .on<GetRider>([](const GetRider&, context& ctx) { return ctx.view<RiderState>(); });
}

}  // namespace keel::rideshare
