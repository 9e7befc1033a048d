#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::rideshare {

/// A point on Earth in degrees. Plain value.
struct point {
  double lat = 0;
  double lng = 0;
};

/// Great-circle distance in meters (haversine, mean Earth radius).
double distance_meters(point a, point b);

/// One cell of the matching grid: equal-angle squares of `cell_degrees`.
/// Immutable value.
struct cell_id {
  int64_t x = 0;  // floor(lng / size)
  int64_t y = 0;  // floor(lat / size)
  friend bool operator==(const cell_id&, const cell_id&) = default;
};

/// An area: a block of cells_per_area x cells_per_area cells whose `area` actor knows which
/// of its cells list a driver. Keyed like a cell, "x:y" of the block.
inline constexpr int64_t cells_per_area = 16;

/// The area holding cell `c` (floor division: cell -1 lies in area -1).
cell_id area_of(cell_id c);

/// The key of a cell (or area): "x:y".
std::string cell_key(cell_id c);

/// The cell (or area) of a key "x:y"; nullopt for anything else.
std::optional<cell_id> parse_cell_key(std::string_view key);

/// The grid the geolocation index uses: its cell size, the cell of a point, the cells of a
/// ring, and how near a ring or a cell can possibly come to a point (the matching stop and
/// skip rules).
/// Immutable; safe to share.
class geo_grid {
 public:
  /// 0.01° is ~1.1 km of latitude (less of longitude away from the equator).
  explicit geo_grid(double cell_degrees = 0.01) : size_(cell_degrees) {}

  cell_id cell_of(point p) const;
  /// The cells at Chebyshev distance exactly `ring` from `center` (ring 0: the center).
  std::vector<cell_id> ring_cells(cell_id center, int ring) const;
  /// A lower bound, in meters, on the distance from `p` to any point of a cell in ring
  /// `ring` around p's cell: nothing in that ring can be nearer.
  double ring_min_distance(point p, int ring) const;
  /// A lower bound, in meters, on the distance from `p` to any point of cell `c` (0 when `p`
  /// lies in it): a cell farther than the best driver found cannot hold a nearer one.
  double cell_min_distance(point p, cell_id c) const;
  /// The areas holding every cell a search from `p` within `radius_meters` may ask (rings
  /// up to `max_ring`).
  std::vector<cell_id> areas_within(point p, double radius_meters, int max_ring) const;

 private:
  double size_;
};

/// Fare rule shared by quotes and rides: base fare plus a per-km rate on the great-circle
/// distance, in integer cents; ETA at an average city speed.
struct fare_rule {
  int32_t base_cents = 250;
  int32_t per_km_cents = 120;
  double speed_meters_per_second = 8.33;  // 30 km/h
};

struct fare_quote {
  int32_t fare_cents = 0;
  int32_t distance_meters = 0;
  int32_t eta_seconds = 0;
};

fare_quote quote_fare(point pickup, point dropoff, const fare_rule& rule = {});

/// Rides and drivers are served up to this latitude.
inline constexpr double max_latitude = 85.0;

/// Whether `p` is a valid coordinate; otherwise `error` names the problem for `field`.
bool valid_point(point p, const std::string& field, std::string& error);

}  // namespace keel::rideshare
