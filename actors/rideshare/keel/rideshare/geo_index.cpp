// The geolocation index: cells list the drivers that can take a ride, areas know which of
// their cells list anyone (architecture.md, "Matching").
#include <optional>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {

namespace {

// The cell (or area) this actor is, if its key is a canonical "x:y" ("05:3" and "-0:3"
// name none: aliases would share the real cell's listing in its area).
std::optional<cell_id> own_coordinates(context& ctx) {
  auto cell = parse_cell_key(ctx.self().key());
  if (!cell || cell_key(*cell) != ctx.self().key()) return std::nullopt;
  return cell;
}

void send_listing(context& ctx, const cell_id& cell, uint64_t seq, bool listed) {
  AreaListing listing;
  auto* c = listing.mutable_cell();
  c->set_x(cell.x);
  c->set_y(cell.y);
  c->set_seq(seq);
  c->set_listed(listed);
  ctx.tell(area_actor(cell_key(area_of(cell))), listing);
}

// Tells the cell's area whether it lists drivers, as a new listing. One-way: a lost one
// leaves the area wrong until the cell's next one, or until a search that asks every cell
// has the cell repeat it (architecture.md, "Matching").
void tell_area(context& ctx, bool listed) {
  auto cell = own_coordinates(ctx);
  if (!cell) return;
  auto& st = ctx.state<CellState>();
  st.set_listing_seq(st.listing_seq() + 1);
  st.set_area_listed(listed);
  send_listing(ctx, *cell, st.listing_seq(), listed);
}

// The area learns of a driver at once, but of an empty cell only when a search again finds
// it empty (CellQuery.correct_area says why).
void register_cell(type_registry& types) {
  types.add_type<CellState>(std::string{cell_type})
      .partition_key(std::string{cell_placement_name}, cell_placement)
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
        if (listing && !view.area_listed()) {
          tell_area(ctx, true);
        } else if (m.correct_area() && listing) {
          // Repeated as it was: an area that has it ignores it, one that lost it learns it.
          if (auto cell = own_coordinates(ctx)) send_listing(ctx, *cell, view.listing_seq(), true);
        } else if (m.correct_area() && view.area_listed()) {
          tell_area(ctx, false);
        }
        return out;
      });
}

void register_area(type_registry& types) {
  types.add_type<AreaState>(std::string{area_type})
      .on<AreaListing>([](const AreaListing& m, context& ctx) -> caf::expected<Done> {
        cell_id cell{m.cell().x(), m.cell().y()};
        auto self = own_coordinates(ctx);
        if (!self || area_of(cell) != *self)
          return make_error(errc::bad_payload,
                            "cell " + cell_key(cell) + " is not in area " + ctx.self().key());
        auto key = cell_key(cell);
        const auto& cells = ctx.view<AreaState>().cells();
        // Listings of one cell may arrive out of order, or twice: the newest one counts; one
        // that says what the area knows already changes nothing (a repeated listing).
        if (auto it = cells.find(key);
            it != cells.end() &&
            (it->second.seq() >= m.cell().seq() || it->second.listed() == m.cell().listed()))
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
