#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/ride_id.hpp"

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

TEST(Placement, ARideLivesWithItsRiderAndItsAlerts) {
  register_app();
  for (const auto& rider :
       std::vector<std::string>{"ann", "u17", std::string(256, 'z'), "caf\xc3\xa9"}) {
    auto ride = new_ride_id(rider);
    ASSERT_EQ(ride.size(), 27u) << ride;
    EXPECT_EQ(ride.substr(0, 11), "r-" + rider_group_of(rider) + "-");
    auto partition = rider_actor(rider).partition();
    EXPECT_EQ(partition, actor_id::hash_of("rider-group", rider_group_of(rider)) % partition_count);
    EXPECT_EQ(ride_actor(ride).partition(), partition) << rider;
    EXPECT_EQ(alerts_actor("rider", rider).partition(), partition) << rider;
  }
  EXPECT_EQ(rider_group_of("ann"), rider_group_of("ann"));
  EXPECT_NE(rider_group_of("ann"), rider_group_of("bob"));
  EXPECT_NE(new_ride_id("ann"), new_ride_id("ann"));  // 64 random bits each
}

TEST(Placement, APaymentAndItsProcessorLiveWithTheRide) {
  register_app();
  for (const auto& ride : std::vector<std::string>{new_ride_id("ann"), "r-00000000000000aa"}) {
    auto partition = ride_actor(ride).partition();
    EXPECT_EQ(payment_actor("pay-" + ride).partition(), partition) << ride;
    EXPECT_EQ(processor_actor("pay-" + ride).partition(), partition) << ride;
  }
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
  EXPECT_EQ(alerts_placement("rider:ann").type, "rider-group");
  EXPECT_EQ(alerts_placement("driver:d:7").key, "d:7");
}

TEST(Placement, KeysTheAppDidNotMakeArePlacedByTheirIds) {
  register_app();
  // Ride ids of older builds ("r-" 16 hex) and any other form: by the ride's own id.
  for (std::string ride : {"r-00000000000000aa", "r-0000000g-00000000000000aa",
                           "r-00000000+00000000000000aa", "r-00000000-00000000000000aA",
                           "r-00000000-00000000000000aa0", "x-00000000-00000000000000aa"}) {
    EXPECT_EQ(ride_placement(ride).type, "ride") << ride;
    EXPECT_EQ(ride_placement(ride).key, ride);
    EXPECT_EQ(ride_actor(ride).partition(), actor_id::hash_of("ride", ride) % partition_count);
  }
  EXPECT_EQ(ride_placement("r-0123abcd-00000000000000aa").key, "0123abcd");
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
