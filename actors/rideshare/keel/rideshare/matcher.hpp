#pragma once

#include <string>
#include <vector>

#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/runtime/context.hpp"
#include "keel/runtime/task.hpp"

namespace keel::rideshare {

/// Matching a ride to the nearest available driver within the search radius, through the
/// cells of the geolocation index (architecture.md, "Matching"). Each search is a coroutine
/// of the ride's turn: it asks a ring's cells together, then reserves candidates nearest
/// first, and yields the reserved driver's id (empty: none).
/// Immutable after construction; its searches run in ride turns on any scheduler thread.
class matcher {
 public:
  explicit matcher(const rideshare_options& opts) : grid_(opts.cell_degrees), opts_(opts) {}

  /// Finds the nearest available driver within the radius, not one of `excluded`, and
  /// reserves it through the driver actor.
  task<std::string> run(context& ctx, point pickup, std::vector<std::string> excluded = {}) const;

  /// A search again of a ride that found nobody: asks the one or more areas around the
  /// pickup first, and the cells only if one of them lists a driver within the radius;
  /// otherwise yields "" at once. An empty neighbourhood costs a few turns, not ~80. With
  /// `every_cell`, asks the cells whatever the areas say, which repairs an area that missed
  /// a listing (one-way, so lost with a crashing node). The cells asked correct their areas.
  task<std::string> search_again(context& ctx, point pickup, std::vector<std::string> excluded,
                                 bool every_cell) const;

 private:
  struct search;

  task<std::string> find(context& ctx, point pickup, std::vector<std::string> excluded,
                         bool correct_areas) const;
  task<bool> any_listed(context& ctx, point pickup) const;
  task<> query_ring(context& ctx, search& s) const;
  task<> query_cells(context& ctx, search& s, std::vector<cell_id> cells) const;
  bool next_ring_may_be_nearer(const search& s, double meters) const;

  geo_grid grid_;
  rideshare_options opts_;
};

}  // namespace keel::rideshare
