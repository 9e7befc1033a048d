// The geolocation index: cells list the drivers that can take a ride, areas know which of
// their cells list anyone (architecture.md, "Matching").
#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

// Tells the cell's area whether it lists drivers. One-way: a lost listing leaves the area
// wrong until the cell's next one (architecture.md says what that costs a searching ride).
void tell_area(context& ctx, bool listed) {
  auto cell = parse_cell_key(ctx.self().key());
  if (!cell) return;  // a cell called by hand under a key that names no cell
  auto& st = ctx.state<CellState>();
  st.set_listing_seq(st.listing_seq() + 1);
  st.set_area_listed(listed);
  AreaListing listing;
  auto* c = listing.mutable_cell();
  c->set_x(cell->x);
  c->set_y(cell->y);
  c->set_seq(st.listing_seq());
  c->set_listed(listed);
  ctx.tell(area_actor(cell_key(area_of(*cell))), listing);
}

// The area learns of a driver at once, but of an empty cell only when a search again finds
// it empty (CellQuery.correct_area says why).
void register_cell(type_registry& types) {
  types.add_type<CellState>(std::string{cell_type})
      .on<CellUpsert>([](const CellUpsert& m, context& ctx) {
        auto& st = ctx.state<CellState>();
        (*st.mutable_drivers())[m.driver_id()] = m.position();
        if (!st.area_listed()) tell_area(ctx, true);
        return Done{};
      })
      .on<CellRemove>([](const CellRemove& m, context& ctx) {
        if (ctx.view<CellState>().drivers().count(m.driver_id()))
          ctx.state<CellState>().mutable_drivers()->erase(m.driver_id());
        return Done{};
      })
      .on<CellQuery>([](const CellQuery& m, context& ctx) {
        CellDrivers out;
        const auto& view = ctx.view<CellState>();
        for (const auto& [id, pos] : view.drivers()) {
          auto* d = out.add_drivers();
          d->set_driver_id(id);
          *d->mutable_position() = pos;
        }
        bool listing = !view.drivers().empty();
        // Also a cell stored before areas existed, listing drivers its area does not know.
        if (listing && !view.area_listed()) tell_area(ctx, true);
        if (!listing && view.area_listed() && m.correct_area()) tell_area(ctx, false);
        return out;
      });
}

void register_area(type_registry& types) {
  types.add_type<AreaState>(std::string{area_type})
      .on<AreaListing>([](const AreaListing& m, context& ctx) {
        auto key = cell_key({m.cell().x(), m.cell().y()});
        const auto& cells = ctx.view<AreaState>().cells();
        // Listings of one cell may arrive out of order, or twice: the newest one counts.
        if (auto it = cells.find(key); it != cells.end() && it->second.seq() >= m.cell().seq())
          return Done{};
        (*ctx.state<AreaState>().mutable_cells())[key] = m.cell();
        return Done{};
      })
      .on<AreaQuery>([](const AreaQuery&, context& ctx) {
        AreaCells out;
        for (const auto& [key, cell] : ctx.view<AreaState>().cells())
          if (cell.listed()) *out.add_listed() = cell;
        return out;
      });
}

}  // namespace

void register_geo_index(type_registry& types) {
  register_cell(types);
  register_area(types);
}

}  // namespace keel::rideshare
