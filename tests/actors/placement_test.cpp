#include "keel/rideshare/placement.hpp"

#include <gtest/gtest.h>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/runtime/registry.hpp"

namespace keel::rideshare {
namespace {

// Registers the app once in this process, so its ids are placed as on a node.
void register_app() {
  static bool done = [] {
    type_registry types;
    register_rideshare(types, rideshare_options{});
    EXPECT_FALSE(types.check());
    return true;
  }();
  (void)done;
}

TEST(Placement, ARegionIsAFourByFourBlockOfCellsWithFloorDivision) {
  EXPECT_EQ(region_of({0, 0}), (cell_id{0, 0}));
  EXPECT_EQ(region_of({3, 3}), (cell_id{0, 0}));
  EXPECT_EQ(region_of({4, 7}), (cell_id{1, 1}));
  EXPECT_EQ(region_of({-1, -4}), (cell_id{-1, -1}));
  EXPECT_EQ(region_of({-5, 1339}), (cell_id{-2, 334}));
}

TEST(Placement, APaymentAndItsProcessorLiveWithTheRide) {
  register_app();
  std::string ride = "r-00000000000000aa";
  auto partition = ride_actor(ride).partition();
  EXPECT_EQ(partition, actor_id::hash_of("ride", ride) % partition_count);  // by its id
  EXPECT_EQ(payment_actor("pay-" + ride).partition(), partition);
  EXPECT_EQ(processor_actor("pay-" + ride).partition(), partition);
}

TEST(Placement, TheCellsOfARegionShareItsPartition) {
  register_app();
  auto partition = actor_id("region", "334:1312").partition();
  for (auto cell : {"1336:5248", "1339:5251", "1337:5250"})
    EXPECT_EQ(cell_actor(cell).partition(), partition) << cell;
  EXPECT_NE(cell_actor("1340:5251").partition(), partition);  // the next region east
  EXPECT_EQ(cell_placement("-1:-5").key, "-1:-2");
}

TEST(Placement, AlertsLiveWithTheirRiderOrDriver) {
  register_app();
  EXPECT_EQ(alerts_actor("rider", "ann").partition(), rider_actor("ann").partition());
  EXPECT_EQ(alerts_actor("driver", "d:7").partition(), driver_actor("d:7").partition());
  EXPECT_EQ(alerts_placement("rider:ann").type, "rider");
  EXPECT_EQ(alerts_placement("driver:d:7").key, "d:7");
}

TEST(Placement, KeysTheAppDidNotMakeArePlacedByTheirIds) {
  register_app();
  EXPECT_EQ(payment_placement("pay-").type, "payment");
  EXPECT_EQ(payment_placement("other").type, "payment");
  EXPECT_EQ(payment_placement("other").key, "other");
  EXPECT_EQ(cell_placement("not-a-cell").type, "cell");
  EXPECT_EQ(cell_placement("1:2:3").type, "cell");
  EXPECT_EQ(alerts_placement("nobody:x").type, "alerts");
  EXPECT_EQ(alerts_placement("rider").type, "alerts");
  EXPECT_EQ(alerts_placement("rider").key, "rider");
}

}  // namespace
}  // namespace keel::rideshare
