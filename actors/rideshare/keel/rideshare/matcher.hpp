#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/runtime/context.hpp"

namespace keel::rideshare {

class match_search;

/// Matching a ride to the nearest available driver within the search radius, through the
/// cells of the geolocation index (architecture.md, "Matching").
/// Immutable after construction; called from ride turns on any scheduler thread.
class matcher {
 public:
  explicit matcher(const rideshare_options& opts);
  ~matcher();

  /// Finds the nearest available driver within the radius, not one of `excluded`, and
  /// reserves it through the driver actor; calls `done(driver_id)` (empty: none) inside
  /// the same turn.
  void run(context& ctx, point pickup, std::function<void(std::string)> done,
           std::vector<std::string> excluded = {}) const;

  /// A search again of a ride that found nobody: asks the one or more areas around the
  /// pickup first, and the cells only if one of them lists a driver within the radius;
  /// otherwise `done("")` at once. An empty neighbourhood costs a few turns, not ~80. With
  /// `every_cell`, asks the cells whatever the areas say, which repairs an area that missed
  /// a listing (one-way, so lost with a crashing node). The cells asked correct their areas.
  void search_again(context& ctx, point pickup, std::function<void(std::string)> done,
                    std::vector<std::string> excluded, bool every_cell) const;

 private:
  std::unique_ptr<const match_search> search_;
};

}  // namespace keel::rideshare
