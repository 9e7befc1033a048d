// Transfers across a restart and a desk lost half way: what was acknowledged survives,
// and the source's reminder finishes (or refunds) every pending transfer once the fake
// clock passes its due time, moving the money exactly once.
#include "tests/bank_fixture.hpp"

namespace bank::test {
namespace {

using Recovery = BankTest;

// Past the source's "settle" reminder (30 s).
constexpr auto past_the_reminder = 31s;

TEST_F(Recovery, ARestartLosesNothingAcknowledged) {
  open("ada", 1000);
  open("bob", 1000);
  std::vector<Transfer> answered;
  for (int i = 0; i < 5; ++i) {
    auto t = transfer("t" + std::to_string(i), i % 2 ? "bob" : "ada", i % 2 ? "ada" : "bob",
                      100 * (i + 1));
    ASSERT_TRUE(t) << keel::message_of(t.error());
    ASSERT_EQ(t->status(), COMPLETED) << "t" << i;
    answered.push_back(*t);
  }
  auto err = node_->restart();
  ASSERT_FALSE(err) << keel::message_of(err);
  // ada sent 100+300+500, got 200+400.
  EXPECT_EQ(balance("ada").balance_cents(), 700);
  EXPECT_EQ(balance("bob").balance_cents(), 1300);
  for (const auto& t : answered) {
    auto again = transfer(t.transfer_id(), t.from(), t.to(), t.amount_cents());
    ASSERT_TRUE(again) << keel::message_of(again.error());
    EXPECT_EQ(again->SerializeAsString(), t.SerializeAsString()) << t.transfer_id();
  }
  EXPECT_EQ(balance("ada").balance_cents(), 700) << "a repeat after the restart moved money";
  EXPECT_EQ(audit("ada").size(), 6u);
  expect_audit_matches_balance("ada");
  expect_audit_matches_balance("bob");
}

// The desk stopped after the debit (only step 1 ran), and the node restarted: the money
// is counted as pending until the reminder has the desk credit and settle it.
TEST_F(Recovery, TheReminderFinishesATransferWhoseDeskStoppedAfterTheDebit) {
  open("ada", 1000);
  open("bob", 0);
  EXPECT_EQ(begin_only("t1", "ada", "bob", 250).status(), PENDING);
  EXPECT_EQ(balance("ada").balance_cents(), 750);
  EXPECT_EQ(balance("ada").pending_out_cents(), 250);
  auto err = node_->restart();
  ASSERT_FALSE(err) << keel::message_of(err);
  EXPECT_EQ(status("ada", "t1"), PENDING) << "phase: after the restart, before the reminder";
  node_->advance(past_the_reminder);
  EXPECT_TRUE(node_->wait_until([&] { return status("ada", "t1") == COMPLETED; }, 20s))
      << "phase: clock past the reminder; t1 of ada is " << status("ada", "t1");
  EXPECT_EQ(balance("ada").balance_cents(), 750);
  EXPECT_EQ(balance("ada").pending_out_cents(), 0);
  EXPECT_EQ(balance("bob").balance_cents(), 250);
  expect_audit_matches_balance("ada");
  expect_audit_matches_balance("bob");
}

TEST_F(Recovery, TheReminderRefundsAPendingTransferToAnAccountNotOpen) {
  open("ada", 1000);
  EXPECT_EQ(begin_only("t1", "ada", "ghost", 400).status(), PENDING);
  node_->advance(past_the_reminder);
  EXPECT_TRUE(node_->wait_until([&] { return status("ada", "t1") == REFUNDED; }, 20s))
      << "phase: clock past the reminder; t1 of ada is " << status("ada", "t1");
  EXPECT_EQ(balance("ada").balance_cents(), 1000);
  EXPECT_EQ(kinds("ada"), (std::vector{DEPOSIT, TRANSFER_OUT, REFUND}));
  EXPECT_EQ(balance("ghost").balance_cents(), 0);
}

// The credit landed but its answer was lost (step 2 ran, step 3 did not): the reminder
// asks for the credit again with the same id, which the destination answers from its
// record without crediting twice.
TEST_F(Recovery, ACreditRepeatedByTheReminderCountsOnce) {
  open("ada", 1000);
  open("bob", 0);
  ASSERT_EQ(begin_only("t1", "ada", "bob", 300).status(), PENDING);
  Credit credit;
  credit.set_transfer_id("t1");
  credit.set_from("ada");
  credit.set_amount_cents(300);
  auto landed = node_->call<Credit>(account("bob"), credit);
  ASSERT_TRUE(landed) << keel::message_of(landed.error());
  ASSERT_TRUE(landed->accepted());
  node_->advance(past_the_reminder);
  EXPECT_TRUE(node_->wait_until([&] { return status("ada", "t1") == COMPLETED; }, 20s))
      << "phase: clock past the reminder; t1 of ada is " << status("ada", "t1");
  EXPECT_EQ(balance("bob").balance_cents(), 300);
  EXPECT_EQ(kinds("bob"), (std::vector{TRANSFER_IN}));
  EXPECT_EQ(balance("ada").balance_cents() + balance("bob").balance_cents(), 1000);
}

}  // namespace
}  // namespace bank::test
