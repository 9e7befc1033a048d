// Matching on a real node runtime and LevelDB: the nearest driver who says yes wins; and a
// ride that finds no driver searches again on a backed-off reminder: what each search again
// costs and that a driver listed meanwhile, in the pickup's area or the next one, is found
// by it.
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::rideshare {
namespace {

using namespace std::chrono_literals;
using test::eventually;

class RideSearch : public ::testing::Test {
 protected:
  RideSearch() {
    rideshare_options opts;
    opts.search_retry = 20ms;
    opts.search_retry_max = 20ms;
    opts.search_timeout = 60s;
    register_rideshare(types_, opts);
    start();
  }
  ~RideSearch() override { stop(); }

  void start() { node_.start(types_, {dir_.sub("db"), false}); }
  void stop() { node_.stop(); }

  // With the node stopped: writes `state` as the state record of `id`, as a node whose
  // one-way messages were lost with it may have left things.
  void put_state(const actor_id& id, const google::protobuf::Message& state) {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options{}, dir_.sub("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    leveldb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Put(sync, state_key(id), encode_versioned(1, state.SerializeAsString())).ok());
  }

  template <class Reply>
  Reply call(const actor_id& target, std::shared_ptr<google::protobuf::Message> m) {
    auto r = node_.rt->call_and_wait(target, std::move(m), 5s);
    EXPECT_TRUE(r) << message_of(r.error());
    return r ? static_cast<const Reply&>(**r) : Reply{};
  }

  Ride request_ride(const std::string& id, double lat, double lng) {
    auto m = std::make_shared<RequestRide>();
    m->set_rider_id("u-" + id);
    m->mutable_pickup()->set_lat(lat);
    m->mutable_pickup()->set_lng(lng);
    m->mutable_dropoff()->set_lat(lat + 0.01);
    m->mutable_dropoff()->set_lng(lng);
    return call<Ride>(ride_actor(id), m);
  }

  Ride ride(const std::string& id) {
    return call<Ride>(ride_actor(id), std::make_shared<GetRide>());
  }

  void list_driver(const std::string& id, double lat, double lng) {
    auto at = std::make_shared<UpdateLocation>();
    at->set_lat(lat);
    at->set_lng(lng);
    call<Driver>(driver_actor(id), at);
    auto available = std::make_shared<SetAvailability>();
    available->set_available(true);
    call<Driver>(driver_actor(id), available);
  }

  // Listings travel one-way, driver to cell, after the driver's turn: waits for them.
  bool cell_lists(const std::string& cell, int drivers) {
    return eventually(
        [&] {
          return call<CellDrivers>(cell_actor(cell), std::make_shared<CellQuery>())
                     .drivers_size() == drivers;
        },
        5s);
  }

  uint64_t fired() { return node_.rt->metrics().reminders_fired.value(); }

  test::temp_dir dir_;
  type_registry types_;
  test::local_runtime node_;
};

// Each search again used to ask the ~80 cells within 5 km: 6,000 rides waiting in an empty
// area kept a node at 100 % CPU. Now it asks the pickup's areas (four here: the pickup
// lies near a corner of its area) and no cell, but for every fourth.
TEST_F(RideSearch, SearchingAgainWhereNoDriverIsAsksTheAreasNotTheCells) {
  ASSERT_EQ(request_ride("r1", -40.0, -120.0).status(), Ride::searching);
  ASSERT_TRUE(eventually([&] { return fired() >= 3; }, 10s)) << "phase: the first retries";
  auto turns_before = node_.rt->metrics().turns();
  auto fired_before = fired();
  ASSERT_TRUE(eventually([&] { return fired() >= fired_before + 20; }, 10s))
      << "phase: twenty more retries";
  auto turns = node_.rt->metrics().turns() - turns_before;
  auto retries = fired() - fired_before;
  // A retry: the ride's reminder turn and one turn of each of its four areas (5), but
  // every fourth one asks the ~105 cells within 5 km at this latitude instead:
  // (3 x 5 + 106) / 4 = 30.25 on average, where each used to cost ~106. The counts are
  // read while retries run, so one may be counted half.
  EXPECT_LE(double(turns), 32.0 * double(retries) + 106)
      << turns << " turns in " << retries << " retries";
  EXPECT_EQ(ride("r1").status(), Ride::searching);
}

// The areas know of a driver listed after the ride began searching, and the next search
// asks the cells. The driver's cell lies in the area east of the pickup's.
TEST_F(RideSearch, DriverListedInTheNextAreaWhileARideSearchesIsMatchedByTheNextRetry) {
  // Area 0 spans longitudes [0, 0.16); the pickup is 55 m west of its edge, the driver
  // 55 m east of it.
  ASSERT_EQ(request_ride("r2", 0.005, 0.1595).status(), Ride::searching);
  ASSERT_TRUE(eventually([&] { return fired() >= 3; }, 10s)) << "phase: the first retries";
  list_driver("d1", 0.005, 0.1605);
  ASSERT_TRUE(eventually([&] { return ride("r2").status() == Ride::matched; }, 5s))
      << "phase: a retry after the driver was listed";
  EXPECT_EQ(ride("r2").driver_id(), "d1");
}

// A driver who leaves empties the cell; the area learns it when a search again finds the
// cell empty, and then no longer sends searches there.
TEST_F(RideSearch, CellFoundEmptyByASearchIsNoLongerListedInItsArea) {
  list_driver("d2", 10.005, 10.005);
  auto area = area_actor("62:62");  // cell 1000:1000 of 0.01 degrees
  auto listed = [&] { return call<AreaCells>(area, std::make_shared<AreaQuery>()).listed_size(); };
  // Listings are one-way messages, driver to cell to area, each sent after its turn.
  ASSERT_TRUE(eventually([&] { return listed() == 1; }, 5s)) << "phase: the cell listed";
  auto away = std::make_shared<SetAvailability>();
  away->set_available(false);
  call<Driver>(driver_actor("d2"), away);
  auto cell = cell_actor("1000:1000");
  ASSERT_TRUE(eventually(
      [&] { return call<CellDrivers>(cell, std::make_shared<CellQuery>()).drivers_size() == 0; },
      5s))
      << "phase: the driver leaving the cell";
  // A first search's query leaves the area as it is.
  EXPECT_EQ(listed(), 1);
  auto again = std::make_shared<CellQuery>();
  again->set_correct_area(true);
  call<CellDrivers>(cell, again);
  ASSERT_TRUE(eventually([&] { return listed() == 0; }, 5s)) << "phase: the cell unlisted";
  // Listed again by the next driver in.
  list_driver("d3", 10.006, 10.006);
  ASSERT_TRUE(eventually([&] { return listed() == 1; }, 5s)) << "phase: listed again";
}

// A search again that finds the area listing a cell that is empty now (its driver left)
// has the cell correct its area: the retries after it ask no cell.
TEST_F(RideSearch, SearchAgainNextToAnEmptiedCellUnlistsItFromItsArea) {
  list_driver("gone", 20.005, 20.005);
  auto area = area_actor("125:125");  // cell 2000:2000 of 0.01 degrees
  auto listed = [&] { return call<AreaCells>(area, std::make_shared<AreaQuery>()).listed_size(); };
  ASSERT_TRUE(eventually([&] { return listed() == 1; }, 5s)) << "phase: the cell listed";
  auto away = std::make_shared<SetAvailability>();
  away->set_available(false);
  call<Driver>(driver_actor("gone"), away);
  ASSERT_EQ(request_ride("r4", 20.006, 20.006).status(), Ride::searching);
  ASSERT_TRUE(eventually([&] { return listed() == 0; }, 5s))
      << "phase: a search again unlisting the emptied cell";
}

// A listing lost on the way (one-way, gone with a crashing node) leaves the area wrong:
// the fourth search again asks every cell, finds the driver and repairs the area.
TEST_F(RideSearch, DriverWhoseListingTheAreaLostIsFoundByTheSearchOfEveryCell) {
  ASSERT_EQ(request_ride("r5", 30.005, 30.005).status(), Ride::searching);
  ASSERT_TRUE(eventually([&] { return fired() >= 2; }, 10s)) << "phase: the first retries";
  stop();
  DriverState driver;
  driver.mutable_position()->set_lat(30.006);
  driver.mutable_position()->set_lng(30.006);
  driver.set_available(true);
  driver.set_cell("3000:3000");
  put_state(driver_actor("lost"), driver);
  CellState cell;  // it told its area, which never heard of it
  (*cell.mutable_drivers())["lost"] = driver.position();
  cell.set_listing_seq(1);
  cell.set_area_listed(true);
  put_state(cell_actor("3000:3000"), cell);
  start();
  ASSERT_TRUE(eventually([&] { return ride("r5").status() == Ride::matched; }, 10s))
      << "phase: the search of every cell";
  EXPECT_EQ(ride("r5").driver_id(), "lost");
  auto area = area_actor("187:187");
  EXPECT_EQ(call<AreaCells>(area, std::make_shared<AreaQuery>()).listed_size(), 1);
}

// The matcher searches ring by ring: a driver 78 m away across the cell boundary beats one
// 278 m away in the pickup's own cell.
TEST_F(RideSearch, NearestDriverAcrossACellBoundaryIsMatchedBeforeOneInThePickupsCell) {
  list_driver("same-cell", 0.005, 0.0070);  // cell 0:0, 0.0025 deg west of the pickup
  list_driver("next-cell", 0.005, 0.0102);  // cell 1:0, 0.0007 deg east
  ASSERT_TRUE(cell_lists("0:0", 1) && cell_lists("1:0", 1)) << "phase: the cells listing";
  auto matched = request_ride("rb", 0.005, 0.0095);
  EXPECT_EQ(matched.status(), Ride::matched);
  EXPECT_EQ(matched.driver_id(), "next-cell");
}

// The driver decides: one already reserved refuses (even while a cell still lists it), and
// the matcher reserves the next nearest instead.
TEST_F(RideSearch, DriverTakenByAnotherRideIsPassedOverForTheNextNearest) {
  list_driver("near", 40.005, 40.005);
  list_driver("far", 40.005, 40.007);
  ASSERT_TRUE(cell_lists("4000:4000", 2)) << "phase: the cell listing both";
  auto first = request_ride("rn1", 40.005, 40.005);
  ASSERT_EQ(first.status(), Ride::matched);
  EXPECT_EQ(first.driver_id(), "near");
  auto second = request_ride("rn2", 40.005, 40.005);
  EXPECT_EQ(second.status(), Ride::matched);
  EXPECT_EQ(second.driver_id(), "far");
}

// A payment operation this version cannot name (written by a newer one before a rollback)
// stays first in the ride's outbox: nothing after it is delivered, nothing is guessed.
TEST_F(RideSearch, PaymentOperationThisVersionDoesNotKnowStaysQueuedAndBlocksTheRest) {
  stop();
  RideState ride;
  ride.mutable_ride()->set_ride_id("rp");
  ride.mutable_ride()->set_status(Ride::completed);
  ride.mutable_ride()->set_payment_id("pay-rp");
  auto* unknown = ride.add_payment_outbox();
  unknown->set_op("refund");
  unknown->set_amount_cents(5);
  ride.add_payment_outbox()->set_op("void");
  put_state(ride_actor("rp"), ride);
  start();
  call<Done>(ride_actor("rp"), std::make_shared<FlushPayments>());
  auto payment =
      node_.rt->call_and_wait(payment_actor("pay-rp"), std::make_shared<GetPayment>(), 5s);
  ASSERT_FALSE(payment) << "an operation went past the unknown one";
  EXPECT_EQ(code_of(payment.error()), errc::not_found);
  stop();
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options{}, dir_.sub("db"), &raw).ok());
  std::unique_ptr<leveldb::DB> db{raw};
  std::string value;
  ASSERT_TRUE(db->Get(leveldb::ReadOptions{}, state_key(ride_actor("rp")), &value).ok());
  uint64_t version = 0;
  std::string_view bytes;
  ASSERT_TRUE(decode_versioned(value, version, bytes));
  RideState stored;
  ASSERT_TRUE(stored.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  ASSERT_EQ(stored.payment_outbox_size(), 2);
  EXPECT_EQ(stored.payment_outbox(0).op(), "refund");
  db.reset();
  start();  // the fixture stops it
}

}  // namespace
}  // namespace keel::rideshare
