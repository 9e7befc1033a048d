// Matching: a ring-by-ring search of the cells around a pickup, then reservations of the
// nearest candidates, each through the driver actor; and the areas asked first when a
// search is repeated. Every step is a co_await inside the ride's turn.
#include "keel/rideshare/matcher.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/actor_types.hpp"
#include "keel/rideshare/rideshare.pb.h"

namespace keel::rideshare {

namespace {

constexpr int max_rings = 64;
constexpr double nobody = std::numeric_limits<double>::infinity();

}  // namespace

// One search: what its rings found so far. Lives in the search's coroutine frame.
struct matcher::search {
  point pickup;
  CellQuery query;  // the same for every cell asked
  cell_id center;
  int ring = 0;
  struct candidate {
    std::string driver_id;
    double meters;
  };
  std::vector<candidate> found;
  // Cells not asked because they could not beat the best driver found when their ring was
  // searched; asked after all if refusals leave a candidate farther than one of them.
  struct skipped_cell {
    cell_id cell;
    double min_meters;
  };
  std::vector<skipped_cell> skipped;
  std::set<std::string> refused;  // drivers that said no in this search: never asked twice

  // The distance of the nearest driver found who has not refused (infinity: none).
  double nearest_free() const {
    double best = nobody;
    for (const auto& c : found)
      if (!refused.count(c.driver_id)) best = std::min(best, c.meters);
    return best;
  }

  // The nearest candidate who has not refused, or null.
  const candidate* next_candidate() {
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return a.meters != b.meters ? a.meters < b.meters : a.driver_id < b.driver_id;
    });
    for (const auto& c : found)
      if (!refused.count(c.driver_id)) return &c;
    return nullptr;
  }

  // Takes the skipped cells that could hold someone no farther than `meters`.
  std::vector<cell_id> take_skipped_within(double meters) {
    std::vector<cell_id> due;
    std::erase_if(skipped, [&](const skipped_cell& s) {
      if (s.min_meters > meters) return false;
      due.push_back(s.cell);
      return true;
    });
    return due;
  }
};

task<std::string> matcher::run(context& ctx, point pickup,
                               std::vector<std::string> excluded) const {
  return find(ctx, pickup, std::move(excluded), false);
}

task<std::string> matcher::search_again(context& ctx, point pickup,
                                        std::vector<std::string> excluded, bool every_cell) const {
  // Each co_await is a statement of its own: g++ 12 miscompiles one inside `&&` (SIGILL).
  if (!every_cell) {
    bool listed = co_await any_listed(ctx, pickup);
    if (!listed) co_return std::string{};
  }
  auto driver = co_await find(ctx, pickup, std::move(excluded), true);
  co_return driver;
}

// Rings out from the pickup until the next ring cannot hold anyone nearer, then asks the
// nearest candidates one by one until one reserves. A refusal may leave only candidates
// farther than a skipped cell or the next ring: those are searched first, so the ride
// still gets the nearest driver who says yes.
task<std::string> matcher::find(context& ctx, point pickup, std::vector<std::string> excluded,
                                bool correct_areas) const {
  search s;
  s.pickup = pickup;
  s.query.set_correct_area(correct_areas);
  s.refused.insert(excluded.begin(), excluded.end());
  s.center = grid_.cell_of(pickup);
  co_await query_ring(ctx, s);
  for (;;) {
    const auto* next = s.next_candidate();
    double meters = next ? next->meters : nobody;
    if (auto due = s.take_skipped_within(meters); !due.empty()) {
      co_await query_cells(ctx, s, std::move(due));
      continue;
    }
    if (next_ring_may_be_nearer(s, meters)) {
      ++s.ring;
      co_await query_ring(ctx, s);
      continue;
    }
    if (!next) co_return std::string{};
    auto driver = next->driver_id;
    Reserve reserve;
    reserve.set_ride_id(ctx.self().key());
    // The driver decides: a driver listed in a stale cell, or taken by another ride a
    // moment ago, refuses, and the next candidate is tried.
    auto answer = co_await ctx.ask<Reservation>(driver_actor(driver), reserve);
    if (answer && answer->ok()) co_return driver;
    if (!answer) {
      // No answer is not a refusal: the driver may have taken this ride. Release it (a
      // no-op unless it holds this ride).
      ReleaseDriver release;
      release.set_ride_id(ctx.self().key());
      ctx.tell(driver_actor(driver), release);
    }
    s.refused.insert(driver);
  }
}

// Whether any area near `pickup` has a cell within the radius that lists a driver; an
// area that does not answer counts as yes.
task<bool> matcher::any_listed(context& ctx, point pickup) const {
  std::vector<pending_ask<AreaCells>> asks;
  for (const auto& area : grid_.areas_within(pickup, opts_.search_radius_meters, max_rings))
    asks.push_back(ctx.ask<AreaCells>(area_actor(cell_key(area)), AreaQuery{}));
  bool listed = false;
  for (auto& ask : asks) {
    auto answer = co_await ask;
    if (!answer) {
      listed = true;
      continue;
    }
    for (const auto& c : answer->listed())
      if (grid_.cell_min_distance(pickup, {c.x(), c.y()}) <= opts_.search_radius_meters)
        listed = true;
  }
  co_return listed;
}

// Searches ring `s.ring` and the rings after it until the next cannot hold anyone nearer
// than the best found. Asks only the cells that may hold a driver nearer than that (and
// within the radius); a cell wholly farther is skipped: in a city, most of the eight
// neighbours of a pickup lie farther than the nearest driver of its own cell.
task<> matcher::query_ring(context& ctx, search& s) const {
  for (;;) {
    double best = s.nearest_free();
    std::vector<cell_id> cells;
    for (const auto& c : grid_.ring_cells(s.center, s.ring)) {
      double near = grid_.cell_min_distance(s.pickup, c);
      if (near > opts_.search_radius_meters) continue;
      if (near > best)
        s.skipped.push_back({c, near});
      else
        cells.push_back(c);
    }
    co_await query_cells(ctx, s, std::move(cells));
    if (!next_ring_may_be_nearer(s, s.nearest_free())) co_return;
    ++s.ring;
  }
}

// Asks every cell at once for its drivers and keeps those within the radius.
task<> matcher::query_cells(context& ctx, search& s, std::vector<cell_id> cells) const {
  std::vector<pending_ask<CellDrivers>> asks;
  asks.reserve(cells.size());
  for (const auto& c : cells)
    asks.push_back(ctx.ask<CellDrivers>(cell_actor(cell_key(c)), s.query));
  for (auto& ask : asks) {
    auto answer = co_await ask;
    if (!answer) continue;
    for (const auto& d : answer->drivers()) {
      double m = distance_meters(s.pickup, to_point(d.position()));
      if (m <= opts_.search_radius_meters) s.found.push_back({d.driver_id(), m});
    }
  }
}

// Whether the next ring must be searched before a driver `meters` away may be asked: it
// could hold someone nearer. Not beyond the radius, nor past a hard ring cap (which at the
// served latitudes lies beyond the radius anyway).
bool matcher::next_ring_may_be_nearer(const search& s, double meters) const {
  double next_min = grid_.ring_min_distance(s.pickup, s.ring + 1);
  return meters > next_min && next_min <= opts_.search_radius_meters && s.ring < max_rings;
}

}  // namespace keel::rideshare
