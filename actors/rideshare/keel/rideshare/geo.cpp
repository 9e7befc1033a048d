#include "keel/rideshare/geo.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace keel::rideshare {

namespace {

constexpr double earth_radius_m = 6371008.8;
constexpr double pi = 3.14159265358979323846;
constexpr double meters_per_degree = earth_radius_m * pi / 180.0;

double radians(double deg) {
  return deg * pi / 180.0;
}

// Meters per degree of longitude at the highest latitude of [lat_a, lat_b]: east-west meters
// shrink with latitude, so the smallest scale keeps a distance estimate a lower bound.
double east_west_scale(double lat_a, double lat_b) {
  double max_abs_lat = std::min(89.9, std::max(std::abs(lat_a), std::abs(lat_b)));
  return meters_per_degree * std::cos(radians(max_abs_lat));
}

// Haversine and the flat estimates below differ by far less than 1% at city scale.
constexpr double flat_estimate_margin = 0.99;

}  // namespace

double distance_meters(point a, point b) {
  double dlat = radians(b.lat - a.lat);
  double dlng = radians(b.lng - a.lng);
  double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(radians(a.lat)) *
                                                           std::cos(radians(b.lat)) *
                                                           std::sin(dlng / 2) * std::sin(dlng / 2);
  return 2 * earth_radius_m * std::asin(std::min(1.0, std::sqrt(h)));
}

cell_id geo_grid::cell_of(point p) const {
  return {static_cast<int64_t>(std::floor(p.lng / size_)),
          static_cast<int64_t>(std::floor(p.lat / size_))};
}

std::string cell_key(cell_id c) {
  return std::to_string(c.x) + ":" + std::to_string(c.y);
}

std::vector<cell_id> geo_grid::ring_cells(cell_id center, int ring) const {
  if (ring == 0) return {center};
  std::vector<cell_id> out;
  out.reserve(8 * ring);
  for (int64_t dx = -ring; dx <= ring; ++dx) {
    out.push_back({center.x + dx, center.y - ring});
    out.push_back({center.x + dx, center.y + ring});
  }
  for (int64_t dy = -ring + 1; dy <= ring - 1; ++dy) {
    out.push_back({center.x - ring, center.y + dy});
    out.push_back({center.x + ring, center.y + dy});
  }
  return out;
}

double geo_grid::ring_min_distance(point p, int ring) const {
  if (ring == 0) return 0;
  // Everything in ring r lies outside the square of rings 0..r-1; the nearest such point
  // is across the nearest edge of that square.
  auto c = cell_of(p);
  double lat_min = (c.y - (ring - 1)) * size_;
  double lat_max = (c.y + ring) * size_;
  double lng_min = (c.x - (ring - 1)) * size_;
  double lng_max = (c.x + ring) * size_;
  double ew_scale = east_west_scale(lat_min, lat_max);
  double north = (lat_max - p.lat) * meters_per_degree;
  double south = (p.lat - lat_min) * meters_per_degree;
  double east = (lng_max - p.lng) * ew_scale;
  double west = (p.lng - lng_min) * ew_scale;
  return flat_estimate_margin * std::max(0.0, std::min({north, south, east, west}));
}

double geo_grid::cell_min_distance(point p, cell_id c) const {
  double lat_min = c.y * size_;
  double lat_max = (c.y + 1) * size_;
  double lng_min = c.x * size_;
  double lng_max = (c.x + 1) * size_;
  // Degrees from p to the cell along each axis; 0 where p lies within the cell's span.
  double dlat = std::max({0.0, lat_min - p.lat, p.lat - lat_max});
  double dlng = std::max({0.0, lng_min - p.lng, p.lng - lng_max});
  double ew_scale = std::min(east_west_scale(p.lat, lat_min), east_west_scale(p.lat, lat_max));
  return flat_estimate_margin * std::hypot(dlat * meters_per_degree, dlng * ew_scale);
}

std::vector<cell_id> geo_grid::areas_within(point p, double radius_meters, int max_ring) const {
  // The rings a search asks reach as far east and west as the radius allows at the
  // latitude where a degree of longitude is shortest; north and south a cell row `dy` away
  // lies at least (|dy| - 1) cells of latitude off, so fewer rows can matter (at 60°, half).
  int reach = 0;
  while (reach < max_ring && ring_min_distance(p, reach + 1) <= radius_meters) ++reach;
  auto rows =
      static_cast<int64_t>(radius_meters / (flat_estimate_margin * size_ * meters_per_degree)) + 1;
  int64_t reach_y = std::min<int64_t>(reach, rows);
  auto c = cell_of(p);
  auto low = area_of({c.x - reach, c.y - reach_y});
  auto high = area_of({c.x + reach, c.y + reach_y});
  std::vector<cell_id> out;
  for (auto x = low.x; x <= high.x; ++x)
    for (auto y = low.y; y <= high.y; ++y) out.push_back({x, y});
  return out;
}

cell_id area_of(cell_id c) {
  // Floor division without negating: -INT64_MIN overflows.
  auto floor_div = [](int64_t v) { return v / cells_per_area - (v % cells_per_area < 0 ? 1 : 0); };
  return {floor_div(c.x), floor_div(c.y)};
}

std::optional<cell_id> parse_cell_key(std::string_view key) {
  auto colon = key.find(':');
  if (colon == key.npos) return std::nullopt;
  cell_id c;
  auto parse = [](std::string_view text, int64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
  };
  if (!parse(key.substr(0, colon), c.x) || !parse(key.substr(colon + 1), c.y)) return std::nullopt;
  return c;
}

fare_quote quote_fare(point pickup, point dropoff, const fare_rule& rule) {
  double meters = distance_meters(pickup, dropoff);
  fare_quote q;
  q.distance_meters = static_cast<int32_t>(std::lround(meters));
  q.fare_cents =
      rule.base_cents + static_cast<int32_t>(std::lround(meters / 1000.0 * rule.per_km_cents));
  q.eta_seconds = static_cast<int32_t>(std::lround(meters / rule.speed_meters_per_second));
  return q;
}

bool valid_point(point p, const std::string& field, std::string& error) {
  // The equal-angle grid degenerates near the poles (cells a few meters wide), so service
  // stops at 85 degrees.
  if (!std::isfinite(p.lat) || p.lat < -max_latitude || p.lat > max_latitude) {
    error = "field '" + field + ".lat': must be between -85 and 85";
    return false;
  }
  if (!std::isfinite(p.lng) || p.lng < -180 || p.lng > 180) {
    error = "field '" + field + ".lng': must be between -180 and 180";
    return false;
  }
  return true;
}

}  // namespace keel::rideshare
