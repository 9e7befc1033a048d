// Matching: a ring-by-ring search of the cells around a pickup, then reservations of the
// nearest candidates, each through the driver actor; and the areas asked first when a
// search is repeated.
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

}  // namespace

// One matching attempt, shared by the continuations of its asks (all in one turn).
struct match_run {
  point pickup;
  CellQuery query;  // the same for every cell asked
  cell_id center;
  int ring = 0;
  int cells_pending = 0;
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
  size_t next_to_reserve = 0;
  std::set<std::string> refused;          // drivers that said no in this run: never asked twice
  std::function<void(std::string)> done;  // the reserved driver, or "" for none
};

// The steps of a search, each a continuation of the asks of the one before, all in the
// ride's turn. Immutable; shared by every ride of the node.
class match_search {
 public:
  explicit match_search(const rideshare_options& opts) : grid_(opts.cell_degrees), opts_(opts) {}

  void run(context& ctx, point pickup, std::function<void(std::string)> done,
           const std::vector<std::string>& excluded, bool correct_areas) const {
    auto run = std::make_shared<match_run>();
    run->pickup = pickup;
    run->query.set_correct_area(correct_areas);
    run->refused.insert(excluded.begin(), excluded.end());
    run->center = grid_.cell_of(pickup);
    run->done = std::move(done);
    query_ring(ctx, run);
  }

  // Whether any area near `pickup` has a cell within the radius that lists a driver;
  // an area that does not answer counts as yes.
  void any_listed(context& ctx, point pickup, std::function<void(bool)> then) const {
    auto areas = grid_.areas_within(pickup, opts_.search_radius_meters, max_rings);
    struct tally {
      size_t pending;
      bool listed = false;
      std::function<void(bool)> then;
    };
    auto t = std::make_shared<tally>(tally{areas.size(), false, std::move(then)});
    for (const auto& area : areas) {
      ctx.ask<AreaCells>(
          area_actor(cell_key(area)), AreaQuery{},
          [this, pickup, t](caf::expected<AreaCells> answer) {
            if (!answer)
              t->listed = true;
            else
              for (const auto& c : answer->listed())
                if (grid_.cell_min_distance(pickup, {c.x(), c.y()}) <= opts_.search_radius_meters)
                  t->listed = true;
            if (--t->pending == 0) t->then(t->listed);
          });
    }
  }

 private:
  // Asks the ring's cells that may hold a driver nearer than the best found so far (and
  // within the radius); a cell wholly farther is skipped: in a city, most of the eight
  // neighbours of a pickup lie farther than the nearest driver of its own cell.
  void query_ring(context& ctx, const std::shared_ptr<match_run>& run) const {
    double best = nearest_free(*run);
    std::vector<cell_id> cells;
    for (const auto& c : grid_.ring_cells(run->center, run->ring)) {
      double near = grid_.cell_min_distance(run->pickup, c);
      if (near > opts_.search_radius_meters) continue;
      if (near > best)
        run->skipped.push_back({c, near});
      else
        cells.push_back(c);
    }
    query_cells(ctx, run, cells, then::end_ring);
  }

  enum class then { end_ring, reserve };

  // Asks each cell for its drivers and keeps those within the radius; then ends the ring or
  // goes back to reserving (at once when there is no cell to ask).
  void query_cells(context& ctx, const std::shared_ptr<match_run>& run,
                   const std::vector<cell_id>& cells, then next) const {
    auto go_on = [this, &ctx, run, next] {
      if (next == then::end_ring) return after_ring(ctx, run);
      rank_found(*run);
      reserve_next(ctx, run);
    };
    if (cells.empty()) return go_on();
    run->cells_pending = static_cast<int>(cells.size());
    for (const auto& c : cells) {
      ctx.ask<CellDrivers>(cell_actor(cell_key(c)), run->query,
                           [this, run, go_on](caf::expected<CellDrivers> answer) {
                             if (answer) {
                               for (const auto& d : answer->drivers()) {
                                 double m = distance_meters(run->pickup, to_point(d.position()));
                                 if (m <= opts_.search_radius_meters)
                                   run->found.push_back({d.driver_id(), m});
                               }
                             }
                             if (--run->cells_pending == 0) go_on();
                           });
    }
  }

  // Orders the candidates nearest first and restarts at the top (whoever refused is skipped
  // by name).
  static void rank_found(match_run& run) {
    std::sort(run.found.begin(), run.found.end(), [](const auto& a, const auto& b) {
      return a.meters != b.meters ? a.meters < b.meters : a.driver_id < b.driver_id;
    });
    run.next_to_reserve = 0;
  }

  // The distance of the nearest driver found who has not refused (infinity: none).
  static double nearest_free(const match_run& run) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& c : run.found)
      if (!run.refused.count(c.driver_id)) best = std::min(best, c.meters);
    return best;
  }

  // Whether the next ring must be searched before a driver `meters` away may be asked: it
  // could hold someone nearer. Not beyond the radius, nor past a hard ring cap (which at the
  // served latitudes lies beyond the radius anyway).
  bool next_ring_may_be_nearer(const match_run& run, double meters) const {
    double next_min = grid_.ring_min_distance(run.pickup, run.ring + 1);
    return meters > next_min && next_min <= opts_.search_radius_meters && run.ring < max_rings;
  }

  void after_ring(context& ctx, const std::shared_ptr<match_run>& run) const {
    if (next_ring_may_be_nearer(*run, nearest_free(*run))) {
      ++run->ring;
      return query_ring(ctx, run);
    }
    rank_found(*run);
    reserve_next(ctx, run);
  }

  void reserve_next(context& ctx, const std::shared_ptr<match_run>& run) const {
    while (run->next_to_reserve < run->found.size() &&
           run->refused.count(run->found[run->next_to_reserve].driver_id))
      ++run->next_to_reserve;
    // Refusals may have left only candidates farther than a cell that was skipped, or than
    // the next ring, which the search stopped before: ask those first, so the ride still
    // gets the nearest driver who says yes.
    double candidate = run->next_to_reserve < run->found.size()
                           ? run->found[run->next_to_reserve].meters
                           : std::numeric_limits<double>::infinity();
    std::vector<cell_id> due;
    std::erase_if(run->skipped, [&](const match_run::skipped_cell& s) {
      if (s.min_meters > candidate) return false;
      due.push_back(s.cell);
      return true;
    });
    if (!due.empty()) return query_cells(ctx, run, due, then::reserve);
    if (next_ring_may_be_nearer(*run, candidate)) {
      ++run->ring;
      return query_ring(ctx, run);
    }
    if (run->next_to_reserve >= run->found.size()) return run->done("");
    auto driver = run->found[run->next_to_reserve++].driver_id;
    Reserve reserve;
    reserve.set_ride_id(ctx.self().key());
    // The driver decides: a driver listed in a stale cell, or taken by another ride a
    // moment ago, refuses, and the next candidate is tried.
    ctx.ask<Reservation>(driver_actor(driver), reserve,
                         [this, &ctx, run, driver](caf::expected<Reservation> answer) {
                           if (answer && answer->ok()) return run->done(driver);
                           if (!answer) {
                             // No answer is not a refusal: the driver may have taken this
                             // ride. Release it (a no-op unless it holds this ride).
                             ReleaseDriver release;
                             release.set_ride_id(ctx.self().key());
                             ctx.tell(driver_actor(driver), release);
                           }
                           run->refused.insert(driver);
                           reserve_next(ctx, run);
                         });
  }

  geo_grid grid_;
  rideshare_options opts_;
};

matcher::matcher(const rideshare_options& opts)
    : search_(std::make_unique<const match_search>(opts)) {}

matcher::~matcher() = default;

void matcher::run(context& ctx, point pickup, std::function<void(std::string)> done,
                  std::vector<std::string> excluded) const {
  search_->run(ctx, pickup, std::move(done), excluded, false);
}

void matcher::search_again(context& ctx, point pickup, std::function<void(std::string)> done,
                           std::vector<std::string> excluded, bool every_cell) const {
  if (every_cell) return search_->run(ctx, pickup, std::move(done), excluded, true);
  search_->any_listed(ctx, pickup,
                      [this, &ctx, pickup, done = std::move(done),
                       excluded = std::move(excluded)](bool listed) mutable {
                        if (!listed) return done("");
                        search_->run(ctx, pickup, std::move(done), excluded, true);
                      });
}

}  // namespace keel::rideshare
