// The driver: position, availability and the ride it holds; it alone grants reservations,
// and keeps itself listed in the cell of its position while it can take a ride.
#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

using std::chrono::milliseconds;

Driver driver_view(const std::string& id, const DriverState& st) {
  Driver out;
  out.set_driver_id(id);
  if (st.has_position()) *out.mutable_position() = st.position();
  out.set_available(st.available());
  out.set_current_ride(st.current_ride());
  return out;
}

// Keeps the driver listed in exactly the cell of its position while it can take a ride,
// and in none otherwise. One-way messages: cells never call drivers back.
void sync_cell(context& ctx, DriverState& st, const geo_grid& grid) {
  bool listable = st.available() && st.current_ride().empty() && st.has_position();
  std::string wanted = listable ? cell_key(grid.cell_of(to_point(st.position()))) : "";
  if (!st.cell().empty() && st.cell() != wanted) {
    CellRemove remove;
    remove.set_driver_id(ctx.self().key());
    ctx.tell(cell_actor(st.cell()), remove);
  }
  if (!wanted.empty()) {
    CellUpsert upsert;
    upsert.set_driver_id(ctx.self().key());
    *upsert.mutable_position() = st.position();
    ctx.tell(cell_actor(wanted), upsert);
  }
  st.set_cell(wanted);
}

constexpr std::string_view lease_reminder = "lease";
constexpr std::chrono::milliseconds lease_period{std::chrono::seconds{30}};

}  // namespace

void register_driver(type_registry& types, const rideshare_options& opts) {
  geo_grid grid{opts.cell_degrees};
  types.add_type<DriverState>(std::string{driver_type})
      .on<UpdateLocation>([grid](const UpdateLocation& m, context& ctx) {
        auto& st = ctx.state<DriverState>();
        st.mutable_position()->set_lat(m.lat());
        st.mutable_position()->set_lng(m.lng());
        sync_cell(ctx, st, grid);
        return driver_view(ctx.self().key(), st);
      })
      .on<SetAvailability>([grid](const SetAvailability& m, context& ctx) {
        auto& st = ctx.state<DriverState>();
        st.set_available(m.available());
        sync_cell(ctx, st, grid);
        return driver_view(ctx.self().key(), st);
      })
      .on<Reserve>([grid](const Reserve& m, context& ctx) {
        Reservation out;
        const auto& view = ctx.view<DriverState>();
        if (view.current_ride() == m.ride_id()) {  // a retried reservation of the same ride
          out.set_ok(true);
          *out.mutable_position() = view.position();
          return out;
        }
        if (!view.available() || !view.current_ride().empty() || !view.has_position()) return out;
        auto& st = ctx.state<DriverState>();
        st.set_current_ride(m.ride_id());
        sync_cell(ctx, st, grid);
        // A lease: if the ride failed after reserving (its turn never committed), nobody
        // would ever release this driver; the lease asks the ride, one-way, until released.
        ctx.register_reminder(std::string{lease_reminder}, lease_period, lease_period);
        out.set_ok(true);
        *out.mutable_position() = st.position();
        return out;
      })
      .on<ReleaseDriver>([grid](const ReleaseDriver& m, context& ctx) {
        if (ctx.view<DriverState>().current_ride() == m.ride_id()) {
          auto& st = ctx.state<DriverState>();
          st.clear_current_ride();
          sync_cell(ctx, st, grid);
          ctx.unregister_reminder(std::string{lease_reminder});
        }
        return driver_view(ctx.self().key(), ctx.view<DriverState>());
      })
      .on<GetDriver>([](const GetDriver&, context& ctx) {
        return driver_view(ctx.self().key(), ctx.view<DriverState>());
      })
      .on_reminder([](const std::string& name, context& ctx) {
        if (name != lease_reminder) return;
        const auto& st = ctx.view<DriverState>();
        if (st.current_ride().empty()) return ctx.unregister_reminder(std::string{lease_reminder});
        CheckDriver check;
        check.set_driver_id(ctx.self().key());
        ctx.tell(ride_actor(st.current_ride()), check);
      });
}

}  // namespace keel::rideshare
