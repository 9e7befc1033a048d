// The ride-sharing app over real HTTP against a child keel-node.
#include <signal.h>

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "keel/rideshare/geo.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace keel::rideshare;
using namespace std::chrono_literals;

template <class M>
M parse(const http_reply& r) {
  M m;
  google::protobuf::util::JsonParseOptions options;
  auto st = google::protobuf::util::JsonStringToMessage(r.body, &m, options);
  EXPECT_TRUE(st.ok()) << st.ToString() << " in: " << r.body;
  return m;
}

std::string error_code(const http_reply& r) {
  auto at = r.body.find(R"("code":")");
  if (at == std::string::npos) return "<none: " + r.body + ">";
  auto start = at + 8;
  return r.body.substr(start, r.body.find('"', start) - start);
}

std::string ride_body(const std::string& rider, point pickup, point dropoff) {
  return fmt::format(
      R"({{"riderId":"{}","pickup":{{"lat":{},"lng":{}}},"dropoff":{{"lat":{},"lng":{}}}}})", rider,
      pickup.lat, pickup.lng, dropoff.lat, dropoff.lng);
}

class Rideshare : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    node_ = std::make_unique<node_process>(dir_.sub("data"), std::move(args));
  }

  void place_driver(const std::string& id, point p, bool available = true) {
    auto loc = node_->put_json("/v1/drivers/" + id + "/location",
                               fmt::format(R"({{"lat":{},"lng":{}}})", p.lat, p.lng));
    ASSERT_EQ(loc.status, 200) << loc.body;
    auto avail = node_->put_json("/v1/drivers/" + id + "/availability",
                                 available ? R"({"available":true})" : R"({"available":false})");
    ASSERT_EQ(avail.status, 200) << avail.body;
  }

  // Cells learn of drivers through one-way messages: wait until a driver is listed, as
  // the API promises eventual (not instant) visibility to matching.
  void settle() { std::this_thread::sleep_for(100ms); }

  Ride request(const std::string& rider, point pickup, point dropoff = {52.53, 13.42}) {
    auto r = node_->post("/v1/rides", ride_body(rider, pickup, dropoff));
    EXPECT_EQ(r.status, 201) << r.body;
    return parse<Ride>(r);
  }

  http_reply lifecycle(const std::string& ride, const std::string& step, std::string body = "") {
    return node_->post("/v1/rides/" + ride + "/" + step, body);
  }

  Payment payment_when(const std::string& id, Payment::Status want,
                       std::chrono::milliseconds limit) {
    auto give_up = std::chrono::steady_clock::now() + limit;
    Payment p;
    while (std::chrono::steady_clock::now() < give_up) {
      auto r = node_->get("/v1/payments/" + id);
      if (r.status == 200) {
        p = parse<Payment>(r);
        if (p.status() == want) return p;
      }
      std::this_thread::sleep_for(20ms);
    }
    return p;
  }

  // The ride as soon as `done(ride)` holds, or as it is when `limit` runs out.
  Ride ride_when(const std::string& id, const std::function<bool(const Ride&)>& done,
                 std::chrono::milliseconds limit) {
    auto give_up = std::chrono::steady_clock::now() + limit;
    Ride now;
    while (std::chrono::steady_clock::now() < give_up) {
      now = parse<Ride>(node_->get("/v1/rides/" + id));
      if (done(now)) break;
      std::this_thread::sleep_for(50ms);
    }
    return now;
  }

  temp_dir dir_;
  std::unique_ptr<node_process> node_;
};

TEST_F(Rideshare, HappyPathFromRequestToCapturedPaymentWithAlerts) {
  start();
  place_driver("d1", {52.5210, 13.4010});
  settle();
  auto ride = request("u1", {52.5200, 13.4000});
  EXPECT_EQ(ride.status(), Ride::matched);
  EXPECT_EQ(ride.driver_id(), "d1");
  EXPECT_EQ(ride.rider_id(), "u1");
  auto quote = quote_fare({52.5200, 13.4000}, {52.53, 13.42});
  EXPECT_EQ(ride.fare_cents(), quote.fare_cents);
  EXPECT_EQ(ride.payment_id(), "pay-" + ride.ride_id());

  auto got = node_->get("/v1/rides/" + ride.ride_id());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(parse<Ride>(got).status(), Ride::matched);

  auto accepted = lifecycle(ride.ride_id(), "accept", R"({"driverId":"d1"})");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(parse<Ride>(accepted).status(), Ride::accepted);
  EXPECT_EQ(payment_when(ride.payment_id(), Payment::authorized, 2s).status(), Payment::authorized);
  EXPECT_EQ(parse<Ride>(lifecycle(ride.ride_id(), "start")).status(), Ride::in_progress);
  EXPECT_EQ(parse<Ride>(lifecycle(ride.ride_id(), "complete")).status(), Ride::completed);

  auto paid = payment_when(ride.payment_id(), Payment::captured, 1s);
  EXPECT_EQ(paid.status(), Payment::captured);  // within a second at failure rate 0
  EXPECT_EQ(paid.amount_cents(), ride.fare_cents());
  EXPECT_EQ(paid.ride_id(), ride.ride_id());

  auto alerts = parse<AlertInbox>(node_->get("/v1/riders/u1/alerts"));
  std::vector<std::string> kinds;
  for (const auto& a : alerts.alerts()) kinds.push_back(a.kind());
  // Newest first.
  EXPECT_EQ(kinds, (std::vector<std::string>{"payment", "completed", "started", "payment",
                                             "accepted", "matched"}));
  auto driver_alerts = parse<AlertInbox>(node_->get("/v1/drivers/d1/alerts"));
  ASSERT_GE(driver_alerts.alerts_size(), 1);
  EXPECT_EQ(driver_alerts.alerts(0).kind(), "completed");
  EXPECT_EQ(node_->get("/v1/riders/nobody/alerts").body, R"({"alerts":[]})");

  // The rider's record: the ride in its history, no active ride once completed (rider
  // updates are one-way, so allow them a moment).
  RiderState rider;
  for (int i = 0; i < 50; ++i) {
    rider = parse<RiderState>(node_->get("/v1/riders/u1"));
    if (rider.active_ride().empty() && rider.history_size() == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(rider.active_ride(), "");
  ASSERT_EQ(rider.history_size(), 1);
  EXPECT_EQ(rider.history(0), ride.ride_id());

  // The driver is free again and can be matched.
  auto driver = parse<Driver>(node_->get("/v1/drivers/d1"));
  EXPECT_EQ(driver.current_ride(), "");
  settle();
  EXPECT_EQ(request("u2", {52.5200, 13.4000}).driver_id(), "d1");
}

TEST_F(Rideshare, IllegalTransitionsAre409NamingTheTransition) {
  start();
  place_driver("d1", {52.5210, 13.4010});
  settle();
  auto ride = request("u1", {52.5200, 13.4000});
  ASSERT_EQ(ride.status(), Ride::matched);
  auto early_start = lifecycle(ride.ride_id(), "start");
  EXPECT_EQ(early_start.status, 409);
  EXPECT_NE(early_start.body.find("cannot start ride " + ride.ride_id() + ": it is matched"),
            std::string::npos)
      << early_start.body;
  EXPECT_EQ(lifecycle(ride.ride_id(), "complete").status, 409);
  auto wrong_driver = lifecycle(ride.ride_id(), "accept", R"({"driverId":"d9"})");
  EXPECT_EQ(wrong_driver.status, 409);
  EXPECT_NE(wrong_driver.body.find("'d9' is not the matched driver"), std::string::npos);
  EXPECT_EQ(lifecycle(ride.ride_id(), "accept", "{}").status, 400);  // driverId required
  ASSERT_EQ(lifecycle(ride.ride_id(), "accept", R"({"driverId":"d1"})").status, 200);
  EXPECT_EQ(lifecycle(ride.ride_id(), "accept", R"({"driverId":"d1"})").status, 409);
  ASSERT_EQ(lifecycle(ride.ride_id(), "start").status, 200);
  ASSERT_EQ(lifecycle(ride.ride_id(), "complete").status, 200);
  auto late_cancel = lifecycle(ride.ride_id(), "cancel");
  EXPECT_EQ(late_cancel.status, 409);
  EXPECT_NE(late_cancel.body.find("cannot cancel ride"), std::string::npos);
  EXPECT_EQ(node_->get("/v1/rides/never-made").status, 404);
  EXPECT_EQ(error_code(node_->get("/v1/rides/never-made")), "not_found");
  EXPECT_EQ(node_->post("/v1/rides/never-made/start", "").status, 404);
  EXPECT_EQ(node_->get("/v1/payments/pay-none").status, 404);
}

TEST_F(Rideshare, CancellationVoidsBeforeAcceptAndChargesTheFeeAfter) {
  start();
  place_driver("d1", {52.5210, 13.4010});
  place_driver("d2", {52.5220, 13.4020});
  settle();
  auto early = request("u1", {52.5200, 13.4000});
  auto cancelled = lifecycle(early.ride_id(), "cancel");
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(parse<Ride>(cancelled).cancellation_fee_cents(), 0);
  EXPECT_EQ(payment_when(early.payment_id(), Payment::voided, 2s).status(), Payment::voided);

  settle();
  auto late = request("u2", {52.5200, 13.4000});
  ASSERT_EQ(
      lifecycle(late.ride_id(), "accept", "{\"driverId\":\"" + late.driver_id() + "\"}").status,
      200);
  auto fee = parse<Ride>(lifecycle(late.ride_id(), "cancel"));
  EXPECT_EQ(fee.status(), Ride::cancelled);
  EXPECT_EQ(fee.cancellation_fee_cents(), 500);
  auto charged = payment_when(late.payment_id(), Payment::captured, 2s);
  EXPECT_EQ(charged.status(), Payment::captured);
  EXPECT_EQ(charged.amount_cents(), 500);
}

TEST_F(Rideshare, BadInputIs400NamingTheField) {
  start();
  auto missing = node_->post("/v1/rides", R"({"riderId":"u1","dropoff":{"lat":1,"lng":1}})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("field 'pickup': required"), std::string::npos) << missing.body;
  auto range = node_->post("/v1/rides", ride_body("u1", {91, 0}, {1, 1}));
  EXPECT_EQ(range.status, 400);
  EXPECT_NE(range.body.find("field 'pickup.lat'"), std::string::npos) << range.body;
  auto unknown = node_->post("/v1/rides", R"({"riderId":"u1","surge":2})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("unknown field 'surge'"), std::string::npos) << unknown.body;
  auto no_rider = node_->post("/v1/rides", ride_body("", {1, 1}, {1, 1}));
  EXPECT_EQ(no_rider.status, 400);
  EXPECT_NE(no_rider.body.find("riderId"), std::string::npos);
  auto no_lat = node_->put_json("/v1/drivers/d1/location", R"({"lng":13.4})");
  EXPECT_EQ(no_lat.status, 400);
  EXPECT_NE(no_lat.body.find("field 'lat': required"), std::string::npos) << no_lat.body;
  auto empty = node_->put_json("/v1/drivers/d1/availability", "{}");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(empty.body.find("field 'available': required"), std::string::npos) << empty.body;
  auto bad_location = node_->put_json("/v1/drivers/d1/location", R"({"lat":10,"lng":200})");
  EXPECT_EQ(bad_location.status, 400);
  EXPECT_NE(bad_location.body.find("field 'lng'"), std::string::npos) << bad_location.body;
  auto quote = node_->post("/v1/quotes", R"({"pickup":{"lat":52.52,"lng":13.40}})");
  EXPECT_EQ(quote.status, 400);
  EXPECT_NE(quote.body.find("field 'dropoff': required"), std::string::npos);
}

// The issue's attack: a driver id of ill-formed UTF-8 was stored in a nearby ride's state,
// which then no longer parsed, and the rider was stuck on it. Every key and string field is
// refused at the gateway now, and the rider's ride reads back after a restart.
TEST_F(Rideshare, IllFormedUtf8InAKeyOrAFieldIs400AndPoisonsNoOnesData) {
  start();
  ASSERT_EQ(node_->post("/v1/actors/counter/canary/Increment", R"({"by":5})").status, 200);
  for (std::string bad : {"%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%80", "%FF", "d%E2%82"}) {
    auto loc = node_->put_json("/v1/drivers/" + bad + "/location", R"({"lat":52.52,"lng":13.4})");
    EXPECT_EQ(loc.status, 400) << bad << ": " << loc.body;
    EXPECT_EQ(loc.body, R"({"error":{"code":"bad_payload","message":"path parameter 'id' is not )"
                        R"(valid UTF-8"}})")
        << bad;
    EXPECT_EQ(
        node_->put_json("/v1/drivers/" + bad + "/availability", R"({"available":true})").status,
        400)
        << bad;
    EXPECT_EQ(node_->get("/v1/rides/" + bad).status, 400) << bad;
    EXPECT_EQ(node_->get("/v1/riders/" + bad + "/alerts").status, 400) << bad;
    auto actor = node_->post("/v1/actors/counter/" + bad + "/Increment", R"({"by":1})");
    EXPECT_EQ(actor.status, 400) << bad;
    EXPECT_NE(actor.body.find("path parameter 'key' is not valid UTF-8"), std::string::npos)
        << actor.body;
  }
  for (std::string bad : {"\xc0\xaf", "\xed\xa0\x80", R"(\ud800)", "u\x80"}) {
    auto ride = node_->post("/v1/rides", ride_body(bad, {52.52, 13.40}, {52.53, 13.42}));
    EXPECT_EQ(ride.status, 400) << ride.body;
    EXPECT_EQ(ride.body, R"({"error":{"code":"bad_payload","message":"field 'riderId': not )"
                         R"(valid UTF-8"}})");
  }
  auto keyed = node_->post("/v1/rides", ride_body("victim", {52.52, 13.40}, {52.53, 13.42}),
                           {{"Idempotency-Key", "k\xc0\xaf"}});
  EXPECT_EQ(keyed.status, 400) << keyed.body;
  EXPECT_NE(keyed.body.find("Idempotency-Key: not valid UTF-8"), std::string::npos) << keyed.body;

  place_driver("d-good", {52.5205, 13.4005});
  settle();
  auto ride = request("victim", {52.52, 13.40});
  ASSERT_EQ(ride.driver_id(), "d-good");
  auto accept = lifecycle(ride.ride_id(), "accept", "{\"driverId\":\"d-good\xc0\"}");
  EXPECT_EQ(accept.status, 400);
  EXPECT_EQ(accept.body, R"({"error":{"code":"bad_payload","message":"field 'driverId': not )"
                         R"(valid UTF-8"}})");
  // A restart loads every state afresh from disk: nothing stored may fail to parse.
  ASSERT_EQ(node_->stop(SIGTERM), 0);
  start();
  auto again = node_->get("/v1/rides/" + ride.ride_id());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(parse<Ride>(again).status(), Ride::matched);
  EXPECT_EQ(node_->get("/v1/riders/victim/alerts").status, 200);
  EXPECT_EQ(node_->get("/v1/drivers/d-good").status, 200);
  EXPECT_EQ(node_->post("/v1/actors/counter/canary/Get", "").body, R"({"value":"5"})");
  EXPECT_EQ(node_->get("/healthz").status, 200);
}

TEST_F(Rideshare, QuotesUseTheRidesFareRule) {
  start();
  auto r =
      node_->post("/v1/quotes", R"({"pickup":{"lat":0,"lng":0},"dropoff":{"lat":0.01,"lng":0}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"fareCents":383,"distanceMeters":1112,"etaSeconds":133})");
}

TEST_F(Rideshare, ANearDriverInTheNextCellBeatsAFartherOneInTheSameCell) {
  start();
  // Cells are 0.01 degrees. The pickup sits 0.0005 degrees below a cell boundary.
  point pickup{52.5195, 13.4050};
  place_driver("same-cell", {52.5195 - 0.00225, 13.4050});  // ~250 m, same cell
  place_driver("next-cell", {52.5195 + 0.00072, 13.4050});  // ~80 m, across the boundary
  settle();
  auto ride = request("u1", pickup);
  EXPECT_EQ(ride.driver_id(), "next-cell");
}

TEST_F(Rideshare, MatchingAgreesWithBruteForceOnRandomLayouts) {
  start();
  std::mt19937_64 rng{7};
  std::uniform_real_distribution<double> offset{-0.03, 0.03};
  point center{52.52, 13.40};
  std::map<std::string, point> drivers;
  for (int i = 0; i < 30; ++i) {
    // Every third driver sits just across a cell boundary from a random point.
    point p{center.lat + offset(rng), center.lng + offset(rng)};
    if (i % 3 == 0) p.lat = std::round(p.lat * 100) / 100 + 0.00001;
    auto id = fmt::format("d{:02}", i);
    drivers[id] = p;
    place_driver(id, p);
  }
  settle();
  std::set<std::string> taken;
  for (int i = 0; i < 15; ++i) {
    point pickup{center.lat + offset(rng), center.lng + offset(rng)};
    std::string expected;
    double best = 1e18;
    for (const auto& [id, p] : drivers) {
      if (taken.count(id)) continue;
      double d = distance_meters(pickup, p);
      if (d <= 5000 && (d < best || (d == best && id < expected))) {
        best = d;
        expected = id;
      }
    }
    auto ride = request(fmt::format("u{}", i), pickup);
    EXPECT_EQ(ride.driver_id(), expected)
        << "ride " << i << " at " << pickup.lat << "," << pickup.lng;
    taken.insert(ride.driver_id());
  }
}

TEST_F(Rideshare, ARefusedRideStillGetsTheNearestFreeDriverFromACellItSkipped) {
  start();
  // Per area: "near" ~100 m from the pickup in its cell; "north" ~300 m, in the cell across
  // the boundary ~165 m away, which a search that found "near" skips; "far" ~500 m in the
  // pickup's cell. Two riders at once: the one "near" refuses (or who no longer sees it)
  // must get "north", never "far". Five areas at once, so refusals surely happen.
  constexpr int areas = 5;
  auto pickup_of = [](int area) { return point{52.5185, 13.405 + 0.02 * area}; };
  for (int a = 0; a < areas; ++a) {
    auto p = pickup_of(a);
    place_driver(fmt::format("near{}", a), {p.lat - 0.0009, p.lng});
    place_driver(fmt::format("north{}", a), {p.lat + 0.0027, p.lng});
    place_driver(fmt::format("far{}", a), {p.lat - 0.0045, p.lng});
  }
  settle();
  std::vector<std::future<http_reply>> replies;
  for (int a = 0; a < areas; ++a)
    for (int rider = 0; rider < 2; ++rider)
      replies.push_back(std::async(std::launch::async, [this, a, rider, &pickup_of] {
        return node_->post(
            "/v1/rides", ride_body(fmt::format("u{}-{}", a, rider), pickup_of(a), {52.53, 13.42}));
      }));
  std::set<std::string> assigned;
  for (auto& f : replies) {
    auto r = f.get();
    ASSERT_EQ(r.status, 201) << r.body;
    assigned.insert(parse<Ride>(r).driver_id());
  }
  std::set<std::string> expected;
  for (int a = 0; a < areas; ++a) {
    expected.insert(fmt::format("near{}", a));
    expected.insert(fmt::format("north{}", a));
  }
  EXPECT_EQ(assigned, expected);
}

TEST_F(Rideshare, FortySimultaneousRequestsForTenDriversMatchExactlyTen) {
  start();
  for (int i = 0; i < 10; ++i)
    place_driver(fmt::format("d{}", i), {52.52 + i * 0.0005, 13.40 + i * 0.0005});
  settle();
  std::vector<std::future<http_reply>> replies;
  for (int i = 0; i < 40; ++i)
    replies.push_back(std::async(std::launch::async, [this, i] {
      return node_->post("/v1/rides",
                         ride_body(fmt::format("u{}", i), {52.521, 13.401}, {52.53, 13.42}));
    }));
  std::multiset<std::string> assigned;
  int searching = 0;
  for (auto& f : replies) {
    auto r = f.get();
    ASSERT_EQ(r.status, 201) << r.body;
    auto ride = parse<Ride>(r);
    if (ride.status() == Ride::matched)
      assigned.insert(ride.driver_id());
    else if (ride.status() == Ride::searching)
      ++searching;
  }
  EXPECT_EQ(assigned.size(), 10u);
  EXPECT_EQ(std::set<std::string>(assigned.begin(), assigned.end()).size(), 10u);  // none twice
  EXPECT_EQ(searching, 30);
}

TEST_F(Rideshare, SearchingRideIsMatchedWhenADriverAppears) {
  start();
  auto ride = request("u1", {52.52, 13.40});
  ASSERT_EQ(ride.status(), Ride::searching);
  place_driver("late", {52.5201, 13.4001});
  auto now = ride_when(
      ride.ride_id(), [](const Ride& r) { return r.status() == Ride::matched; }, 8s);
  EXPECT_EQ(now.status(), Ride::matched) << "phase: waiting for the first match retry (2 s ± 20 %)";
  EXPECT_EQ(now.driver_id(), "late");
}

TEST_F(Rideshare, SearchingRideIsCancelledAfterTheSearchTimeout) {
  start({"--ride-search-timeout=1s"});
  auto ride = request("u1", {10.0, 10.0});
  ASSERT_EQ(ride.status(), Ride::searching);
  auto now = ride_when(
      ride.ride_id(), [](const Ride& r) { return r.status() == Ride::cancelled; }, 8s);
  EXPECT_EQ(now.status(), Ride::cancelled);
  EXPECT_EQ(payment_when(ride.payment_id(), Payment::voided, 2s).status(), Payment::voided);
}

TEST_F(Rideshare, AMatchedRideNotAcceptedInTimeGoesToTheNextDriver) {
  start({"--ride-accept-timeout=1s"});
  place_driver("near", {52.5201, 13.4001});
  place_driver("far", {52.5230, 13.4030});
  settle();
  auto ride = request("u1", {52.52, 13.40});
  ASSERT_EQ(ride.driver_id(), "near");
  auto now = ride_when(
      ride.ride_id(), [](const Ride& r) { return r.driver_id() == "far"; }, 8s);
  EXPECT_EQ(now.status(), Ride::matched);
  EXPECT_EQ(now.driver_id(), "far") << "phase: waiting for the 1 s accept timeout";
  // The first driver is free again; the old offer can no longer be accepted by it.
  Driver near;
  for (int i = 0; i < 50; ++i) {  // the release is one-way: allow it a moment
    near = parse<Driver>(node_->get("/v1/drivers/near"));
    if (near.current_ride().empty()) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(near.current_ride(), "");
  EXPECT_EQ(lifecycle(ride.ride_id(), "accept", R"({"driverId":"near"})").status, 409);
  EXPECT_EQ(lifecycle(ride.ride_id(), "accept", R"({"driverId":"far"})").status, 200);
}

TEST_F(Rideshare, ARideNobodyAcceptsIsCancelledAfterThreeLapsedOffers) {
  start({"--ride-accept-timeout=1s"});
  for (int i = 0; i < 4; ++i) place_driver(fmt::format("d{}", i), {52.5201 + i * 0.0005, 13.4001});
  settle();
  auto ride = request("u1", {52.52, 13.40});
  ASSERT_EQ(ride.status(), Ride::matched);
  auto now = ride_when(
      ride.ride_id(), [](const Ride& r) { return r.status() == Ride::cancelled; }, 10s);
  EXPECT_EQ(now.status(), Ride::cancelled) << "phase: waiting for three 1 s offers to lapse";
  EXPECT_EQ(payment_when(ride.payment_id(), Payment::voided, 3s).status(), Payment::voided);
}

TEST_F(Rideshare, IdempotencyKeyReplaysTheRideAndRefusesAnotherBody) {
  start();
  place_driver("d1", {52.5210, 13.4010});
  settle();
  auto body = ride_body("u1", {52.52, 13.40}, {52.53, 13.42});
  auto first = node_->post("/v1/rides", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.status, 201) << first.body;
  auto replay = node_->post("/v1/rides", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(parse<Ride>(replay).ride_id(), parse<Ride>(first).ride_id());
  auto other = node_->post("/v1/rides", ride_body("u2", {52.52, 13.40}, {52.53, 13.42}),
                           {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(error_code(other), "conflict");
  // The record is durable: it survives a restart.
  EXPECT_EQ(node_->stop(SIGTERM), 0);
  start();
  auto after = node_->post("/v1/rides", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(parse<Ride>(after).ride_id(), parse<Ride>(first).ride_id());
}

TEST_F(Rideshare, ACompletedRideIsChargedEvenIfTheNodeDiesRightAfterReplying) {
  start();
  place_driver("d1", {52.5210, 13.4010});
  settle();
  auto ride = request("u1", {52.52, 13.40});
  ASSERT_EQ(lifecycle(ride.ride_id(), "accept", R"({"driverId":"d1"})").status, 200);
  ASSERT_EQ(lifecycle(ride.ride_id(), "start").status, 200);
  ASSERT_EQ(lifecycle(ride.ride_id(), "complete").status, 200);
  EXPECT_EQ(node_->stop(SIGKILL), 128 + SIGKILL);  // at once: the capture may be owed
  start();
  // The ride's durable outbox (a reminder) delivers the capture after the restart.
  auto paid = payment_when(ride.payment_id(), Payment::captured, 10s);
  EXPECT_EQ(paid.status(), Payment::captured);
  EXPECT_EQ(paid.amount_cents(), ride.fare_cents());
  auto ledger = parse<ProcessorState>(
      node_->post("/v1/actors/processor/" + ride.payment_id() + "/GetLedger", "{}"));
  EXPECT_EQ(ledger.done().count(ride.payment_id() + ":capture"), 1u);
}

TEST_F(Rideshare, PaymentsAgainstAFlakyProcessorCaptureExactlyOnce) {
  start({"--payment-failure-rate=0.5"});
  std::vector<Ride> rides;
  for (int i = 0; i < 6; ++i) {
    auto id = fmt::format("d{}", i);
    place_driver(id, {52.52 + i * 0.001, 13.40});
  }
  settle();
  for (int i = 0; i < 6; ++i) {
    auto ride = request(fmt::format("u{}", i), {52.52 + i * 0.001, 13.40});
    ASSERT_EQ(ride.status(), Ride::matched);
    ASSERT_EQ(
        lifecycle(ride.ride_id(), "accept", "{\"driverId\":\"" + ride.driver_id() + "\"}").status,
        200);
    ASSERT_EQ(lifecycle(ride.ride_id(), "start").status, 200);
    ASSERT_EQ(lifecycle(ride.ride_id(), "complete").status, 200);
    rides.push_back(ride);
  }
  for (const auto& ride : rides) {
    auto paid = payment_when(ride.payment_id(), Payment::captured, 20s);
    EXPECT_EQ(paid.status(), Payment::captured) << ride.payment_id();
    EXPECT_EQ(paid.amount_cents(), ride.fare_cents());
    // The processor's own ledger: exactly one capture, of the fare; at most one
    // authorization (a capture that arrives while the authorization is still being retried
    // supersedes it); nothing else.
    auto ledger = parse<ProcessorState>(
        node_->post("/v1/actors/processor/" + ride.payment_id() + "/GetLedger", "{}"));
    auto authorizations = ledger.done().count(ride.payment_id() + ":authorize");
    EXPECT_LE(authorizations, 1u);
    EXPECT_EQ(ledger.done().count(ride.payment_id() + ":capture"), 1u);
    EXPECT_EQ(ledger.done_size(), static_cast<int>(1 + authorizations)) << ride.payment_id();
    if (ledger.done().count(ride.payment_id() + ":capture")) {
      EXPECT_EQ(ledger.done().at(ride.payment_id() + ":capture"), ride.fare_cents());
    }
  }
}

}  // namespace
}  // namespace keel::test
