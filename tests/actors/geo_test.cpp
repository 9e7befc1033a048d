#include "keel/rideshare/geo.hpp"

#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace keel::rideshare {
namespace {

TEST(Haversine, OneDegreeOfLatitudeIsEarthRadiusTimesPiOver180) {
  EXPECT_NEAR(distance_meters({0, 0}, {1, 0}), 111195.08, 0.01);  // 6371008.8 m * pi / 180
  EXPECT_NEAR(distance_meters({52.52, 13.40}, {52.52, 13.40}), 0.0, 1e-9);
  // Berlin to Paris, about 878 km.
  EXPECT_NEAR(distance_meters({52.5200, 13.4050}, {48.8566, 2.3522}) / 1000, 877.5, 1.0);
}

TEST(GeoGrid, RingsHaveEightTimesRCellsAtChebyshevDistanceR) {
  geo_grid grid{0.01};
  cell_id center{1340, 5252};
  EXPECT_EQ(grid.ring_cells(center, 0).size(), 1u);
  for (int r = 1; r <= 5; ++r) {
    auto cells = grid.ring_cells(center, r);
    EXPECT_EQ(cells.size(), static_cast<size_t>(8 * r));
    std::set<std::pair<int64_t, int64_t>> unique;
    for (auto c : cells) {
      EXPECT_EQ(std::max(std::abs(c.x - center.x), std::abs(c.y - center.y)), r);
      unique.insert({c.x, c.y});
    }
    EXPECT_EQ(unique.size(), cells.size());
  }
}

TEST(GeoGrid, NegativeCoordinatesFloorIntoTheirCell) {
  geo_grid grid{0.01};
  auto c = grid.cell_of({-0.001, -0.001});
  EXPECT_EQ(c.x, -1);
  EXPECT_EQ(c.y, -1);
  EXPECT_EQ(cell_key(c), "-1:-1");
}

TEST(GeoGrid, RingMinDistanceIsALowerBoundForEveryPointOfTheRing) {
  geo_grid grid{0.01};
  std::mt19937_64 rng{42};
  std::uniform_real_distribution<double> unit{0, 1};
  for (int sample = 0; sample < 2000; ++sample) {
    point p{52.4 + unit(rng) * 0.3, 13.2 + unit(rng) * 0.3};
    int ring = 1 + static_cast<int>(unit(rng) * 4);
    auto cells = grid.ring_cells(grid.cell_of(p), ring);
    auto c = cells[static_cast<size_t>(unit(rng) * cells.size())];
    point q{(c.y + unit(rng)) * 0.01, (c.x + unit(rng)) * 0.01};
    EXPECT_GE(distance_meters(p, q), grid.ring_min_distance(p, ring))
        << "p=" << p.lat << "," << p.lng << " ring " << ring;
  }
}

TEST(GeoGrid, CellMinDistanceIsALowerBoundForEveryPointOfTheCell) {
  geo_grid grid{0.01};
  std::mt19937_64 rng{43};
  std::uniform_real_distribution<double> unit{0, 1};
  for (int sample = 0; sample < 4000; ++sample) {
    // Around Berlin and near the 85 degree limit, where east-west meters shrink fastest.
    double base_lat = sample % 2 == 0 ? 52.4 : 84.6;
    point p{base_lat + unit(rng) * 0.3, 13.2 + unit(rng) * 0.3};
    auto home = grid.cell_of(p);
    cell_id c{home.x + static_cast<int64_t>(unit(rng) * 7) - 3,
              home.y + static_cast<int64_t>(unit(rng) * 7) - 3};
    point q{(c.y + unit(rng)) * 0.01, (c.x + unit(rng)) * 0.01};
    EXPECT_GE(distance_meters(p, q), grid.cell_min_distance(p, c))
        << "p=" << p.lat << "," << p.lng << " cell " << c.x << ":" << c.y;
  }
}

TEST(GeoGrid, CellMinDistanceIsZeroInsideAndTheGapAcrossAnEdge) {
  geo_grid grid{0.01};
  point p{52.5195, 13.4050};  // 0.0005 degrees (~56 m) below the boundary at 52.52
  auto home = grid.cell_of(p);
  EXPECT_EQ(grid.cell_min_distance(p, home), 0.0);
  double north = grid.cell_min_distance(p, {home.x, home.y + 1});
  EXPECT_GT(north, 0.98 * 0.0005 * 111195.08);
  EXPECT_LE(north, 0.0005 * 111195.08);
  // The cell beyond the northern neighbour starts ~1.1 km further.
  EXPECT_GT(grid.cell_min_distance(p, {home.x, home.y + 2}), 1000.0);
}

TEST(Fare, BaseFarePlusPerKmInCents) {
  fare_rule rule;                                // 250 + 120 per km
  auto q = quote_fare({0, 0}, {0.01, 0}, rule);  // 1111.95 m
  EXPECT_EQ(q.distance_meters, 1112);
  EXPECT_EQ(q.fare_cents, 250 + 133);
  EXPECT_EQ(q.eta_seconds, 133);  // at 8.33 m/s
}

TEST(Validation, NamesTheFieldOutOfRange) {
  std::string error;
  EXPECT_TRUE(valid_point({52, 13}, "pickup", error));
  EXPECT_FALSE(valid_point({91, 13}, "pickup", error));
  EXPECT_EQ(error, "field 'pickup.lat': must be between -85 and 85");
  EXPECT_FALSE(valid_point({86, 13}, "pickup", error));  // the grid stops before the poles
  EXPECT_FALSE(valid_point({0, -181}, "dropoff", error));
  EXPECT_EQ(error, "field 'dropoff.lng': must be between -180 and 180");
  EXPECT_FALSE(valid_point({NAN, 0}, "pickup", error));
}

TEST(GeoAreas, AnAreaIsABlockOf16By16CellsAndNegativeCellsRoundDown) {
  EXPECT_EQ(area_of({0, 0}), (cell_id{0, 0}));
  EXPECT_EQ(area_of({15, 15}), (cell_id{0, 0}));
  EXPECT_EQ(area_of({16, -1}), (cell_id{1, -1}));
  EXPECT_EQ(area_of({-16, -17}), (cell_id{-1, -2}));
}

TEST(GeoAreas, CellKeysParseBackAndAnythingElseIsRefused) {
  EXPECT_EQ(parse_cell_key(cell_key({-12000, 4001})), (cell_id{-12000, 4001}));
  for (const char* bad :
       {"", ":", "1:", ":1", "1:2:3", "a:1", "1:1 ", "1x:2", "99999999999999999999:1"})
    EXPECT_FALSE(parse_cell_key(bad)) << bad;
}

TEST(GeoAreas, TheAreasWithinARadiusHoldEveryCellASearchMayAsk) {
  geo_grid grid{0.01};
  std::mt19937_64 rng{7};
  std::uniform_real_distribution<double> lat{-80, 80}, lng{-179, 179};
  for (int i = 0; i < 200; ++i) {
    point p{lat(rng), lng(rng)};
    auto areas = grid.areas_within(p, 5000, 64);
    std::set<std::pair<int64_t, int64_t>> holds;
    for (auto a : areas) holds.insert({a.x, a.y});
    auto center = grid.cell_of(p);
    for (int r = 0; r <= 64 && grid.ring_min_distance(p, r) <= 5000; ++r)
      for (auto c : grid.ring_cells(center, r)) {
        if (grid.cell_min_distance(p, c) > 5000) continue;
        EXPECT_TRUE(holds.count({area_of(c).x, area_of(c).y})) << p.lat << "," << p.lng;
      }
  }
  // Mid-latitude, 5 km: a 11 x 11 block of cells, so at most 2 x 2 areas.
  EXPECT_LE(grid.areas_within({-40.0, -120.0}, 5000, 64).size(), 4u);
  // Near the pole a cell is ~100 m wide but still ~1.1 km tall: many areas east-west, few
  // north-south.
  EXPECT_LE(grid.areas_within({84.9, 10.0}, 5000, 64).size(), 16u);
}

}  // namespace
}  // namespace keel::rideshare
