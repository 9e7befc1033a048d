// rideshare-sim's checks on the node's answers: a read that got no answer leaves its ride
// not judged, never violated; an answer showing a violation still fails; and the run fails
// when no ride, or more than max_not_judged_share of them, could be judged.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "http_wire.hpp"
#include "invariants.hpp"
#include "report.hpp"

namespace keel::sim {
namespace {

constexpr int32_t fare = 1200;

ride_record completed_ride(int i) {
  ride_record r;
  r.ride_id = fmt::format("r{}", i);
  r.payment_id = fmt::format("p{}", i);
  r.driver_id = fmt::format("d{}", i);  // one ride per driver: no overlap to judge
  r.fare_cents = fare;
  r.path = ride_path::completed;
  r.expect = payment_expectation::capture_fare;
  r.matched = 10;
  r.end_sent = 20;
  r.end_received = 30;
  return r;
}

http_reply answer(std::string body) {
  http_reply reply;
  reply.status = 200;
  reply.body = std::move(body);
  return reply;
}

http_reply captured_payment(const ride_record& r, int32_t amount) {
  return answer(
      fmt::format(R"({{"paymentId":"{}","rideId":"{}","amountCents":{},"status":"captured"}})",
                  r.payment_id, r.ride_id, amount));
}

http_reply ledger_with_capture(const ride_record& r, int32_t amount) {
  return answer(
      fmt::format(R"({{"done":{{"{0}:authorize":{1},"{0}:capture":{1}}}}})", r.payment_id, amount));
}

// `n` completed rides whose payment and ledger reads answered, each a correct capture.
struct run_of_answers {
  std::vector<ride_record> rides;
  settled_payments payments;

  explicit run_of_answers(int n) {
    for (int i = 0; i < n; ++i) rides.push_back(completed_ride(i));
    payments.views.resize(rides.size());
    for (size_t i = 0; i < rides.size(); ++i) {
      record_payment(captured_payment(rides[i], fare), payments.views[i]);
      record_ledger(rides[i], ledger_with_capture(rides[i], fare), payments.views[i]);
    }
  }
};

const check_result& find_check(const judgement& j, const std::string& name) {
  for (const auto& c : j.checks)
    if (c.name == name) return c;
  static const check_result missing{"(missing)", false, "no check named " + name};
  return missing;
}

std::vector<std::string> failed_checks(const judgement& j) {
  std::vector<std::string> out;
  for (const auto& c : j.checks)
    if (!c.pass) out.push_back(c.name + ": " + c.detail);
  return out;
}

TEST(RideshareSimInvariants, LedgerReadLostInTransportLeavesTheRideNotJudgedNotViolated) {
  run_of_answers run{100};
  record_ledger(run.rides[7], transport_failure("Read"), run.payments.views[7]);

  auto j = judge(sim_options{}, run.rides, run.payments);

  EXPECT_EQ(failed_checks(j), std::vector<std::string>{});
  EXPECT_EQ(j.coverage.rides, 100);
  EXPECT_EQ(j.coverage.not_judged, 1);
  EXPECT_EQ(j.coverage.why, (std::map<std::string, int64_t>{{"ledger read: transport Read", 1}}));
  EXPECT_EQ(find_check(j, "rides judged").detail,
            "1 of 100 rides not judged, within the 1 % allowed: the node did not answer their "
            "reads after 3 tries (ledger read: transport Read: 1)");
  // The ride is out of the sums too: its capture is neither expected nor counted.
  EXPECT_EQ(
      find_check(j, "captured == completed fares + fees").detail,
      fmt::format("expected {0} cents; payments captured {0}, processor captured {0}", 99 * fare));
  EXPECT_EQ(find_check(j, "completed -> fare captured once").detail,
            "99 rides: payment and ledger agree");
}

TEST(RideshareSimInvariants, NoRideJudgedFailsTheRun) {
  run_of_answers run{3};
  for (size_t i = 0; i < run.rides.size(); ++i)
    record_payment(transport_failure("Connection"), run.payments.views[i]);

  auto j = judge(sim_options{}, run.rides, run.payments);

  EXPECT_EQ(failed_checks(j),
            std::vector<std::string>{
                "rides judged: none of 3 rides judged: the node did not answer their reads "
                "after 3 tries (payment read: transport Connection: 3)"});
  run_summary summary;
  summary.rides_finished = 3;
  summary.checks = j.checks;
  EXPECT_FALSE(summary.pass());
}

TEST(RideshareSimInvariants, MoreRidesNotJudgedThanTheShareAllowedFailsTheRun) {
  run_of_answers run{100};
  record_ledger(run.rides[3], transport_failure("Read"), run.payments.views[3]);
  record_payment(transport_failure("Timeout"), run.payments.views[4]);

  auto j = judge(sim_options{}, run.rides, run.payments);

  EXPECT_EQ(failed_checks(j),
            std::vector<std::string>{
                "rides judged: 2 of 100 rides not judged, over the 1 % allowed: the node did not "
                "answer their reads after 3 tries (ledger read: transport Read: 1, payment read: "
                "transport Timeout: 1)"});
}

// Only a read with no answer at all is spared: an HTTP error, or an answer that shows the
// money wrong, is the node's word and still a violation.
TEST(RideshareSimInvariants, AnsweredViolationsStillFailBesideARideNotJudged) {
  run_of_answers run{100};
  record_ledger(run.rides[0], transport_failure("Read"), run.payments.views[0]);
  record_ledger(run.rides[1], ledger_with_capture(run.rides[1], fare + 100), run.payments.views[1]);
  http_reply unavailable;
  unavailable.status = 503;
  unavailable.body = R"({"error":{"code":"unavailable","message":"owner moving"}})";
  record_ledger(run.rides[2], unavailable, run.payments.views[2]);

  auto j = judge(sim_options{}, run.rides, run.payments);

  EXPECT_EQ(j.coverage.not_judged, 1);
  const auto& fare_check = find_check(j, "completed -> fare captured once");
  EXPECT_FALSE(fare_check.pass);
  EXPECT_EQ(fare_check.detail.substr(0, fare_check.detail.find(',')), "2 of 99 violate it")
      << fare_check.detail;
  EXPECT_NE(fare_check.detail.find("r1 (completed, fare 1200, fee 0): payment captured 1200 "
                                   "cents, ledger capture=1300 void=none entries=2"),
            std::string::npos)
      << fare_check.detail;
  EXPECT_NE(fare_check.detail.find("ledger 503 unavailable"), std::string::npos)
      << fare_check.detail;
  EXPECT_FALSE(find_check(j, "captured == completed fares + fees").pass);
  EXPECT_TRUE(find_check(j, "rides judged").pass);
}

TEST(RideshareSimInvariants, OnlyTheLastReadOfAPaymentDecidesWhetherItWasAnswered) {
  auto ride = completed_ride(1);
  payment_view view;
  record_payment(transport_failure("Read"), view);
  EXPECT_EQ(view.payment_unanswered, "Read");
  record_payment(captured_payment(ride, fare), view);
  EXPECT_EQ(view.payment_unanswered, "");
  EXPECT_EQ(view.status, "captured");
  // A later poll lost in transport keeps what the node last said, but the ride can no
  // longer be judged on it.
  record_payment(transport_failure("Connection"), view);
  EXPECT_EQ(view.payment_unanswered, "Connection");
  EXPECT_EQ(view.status, "captured");
  EXPECT_EQ(view.amount_cents, fare);
}

TEST(RideshareSimInvariants, JsonReportCountsRidesNotJudgedAndWhy) {
  run_of_answers run{100};
  record_ledger(run.rides[9], transport_failure("Read"), run.payments.views[9]);
  auto j = judge(sim_options{}, run.rides, run.payments);
  run_summary summary;
  summary.rides_finished = 100;
  summary.checks = j.checks;
  summary.coverage = j.coverage;

  std::ostringstream captured;
  auto* saved = std::cout.rdbuf(captured.rdbuf());
  print_json(summary);
  std::cout.rdbuf(saved);

  auto json = captured.str();
  EXPECT_NE(json.find(R"("rides_judged":99,"rides_not_judged":1,)"
                      R"("not_judged_why":{"ledger read: transport Read":1})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"name":"rides judged","pass":true,)"), std::string::npos) << json;
  EXPECT_EQ(json.substr(0, 12), R"({"pass":true)") << json;
}

}  // namespace
}  // namespace keel::sim
