// Transfers between two accounts: exact amounts, one movement per transfer id however
// often it is asked, and nothing moved when it cannot complete.
#include <tuple>

#include "tests/bank_fixture.hpp"

namespace bank::test {
namespace {

using Transfers = BankTest;

TEST_F(Transfers, MoveExactAmountsAndLogEachMovementOnBothSides) {
  open("ada", 1000);
  open("bob", 500);
  auto t1 = transfer("t1", "ada", "bob", 300);
  ASSERT_TRUE(t1) << keel::message_of(t1.error());
  EXPECT_EQ(t1->status(), COMPLETED);
  auto t2 = transfer("t2", "bob", "ada", 50);
  ASSERT_TRUE(t2) << keel::message_of(t2.error());
  EXPECT_EQ(t2->status(), COMPLETED);
  EXPECT_EQ(balance("ada").balance_cents(), 750);
  EXPECT_EQ(balance("bob").balance_cents(), 750);
  EXPECT_EQ(balance("ada").pending_out_cents(), 0);
  EXPECT_EQ(kinds("ada"), (std::vector{DEPOSIT, TRANSFER_OUT, TRANSFER_IN}));
  EXPECT_EQ(kinds("bob"), (std::vector{DEPOSIT, TRANSFER_IN, TRANSFER_OUT}));
  auto ada = audit("ada");
  ASSERT_EQ(ada.size(), 3u);
  EXPECT_EQ(ada[1].amount_cents(), -300);
  EXPECT_EQ(ada[1].transfer_id(), "t1");
  EXPECT_EQ(ada[1].counterparty(), "bob");
  expect_audit_matches_balance("ada");
  expect_audit_matches_balance("bob");
}

TEST_F(Transfers, TheSameIdTwiceMovesMoneyOnceAndAnswersTheSame) {
  open("ada", 1000);
  open("bob", 0);
  auto first = transfer("t1", "ada", "bob", 400);
  auto again = transfer("t1", "ada", "bob", 400);
  ASSERT_TRUE(first) << keel::message_of(first.error());
  ASSERT_TRUE(again) << keel::message_of(again.error());
  EXPECT_EQ(first->SerializeAsString(), again->SerializeAsString());
  EXPECT_EQ(again->status(), COMPLETED);
  EXPECT_EQ(balance("ada").balance_cents(), 600);
  EXPECT_EQ(balance("bob").balance_cents(), 400);
  EXPECT_EQ(kinds("bob"), (std::vector{TRANSFER_IN}));
  // The id is taken: another amount under it is refused, and moves nothing.
  auto other = transfer("t1", "ada", "bob", 1);
  ASSERT_FALSE(other);
  EXPECT_EQ(keel::code_of(other.error()), keel::errc::conflict) << keel::message_of(other.error());
  EXPECT_EQ(balance("ada").balance_cents(), 600);
}

TEST_F(Transfers, FromInsufficientFundsIsRefusedAndMovesNothing) {
  open("ada", 100);
  open("bob", 0);
  auto t = transfer("t1", "ada", "bob", 101);
  ASSERT_TRUE(t) << keel::message_of(t.error());
  EXPECT_EQ(t->status(), REFUSED);
  EXPECT_EQ(t->reason(), "insufficient funds");
  EXPECT_EQ(balance("ada").balance_cents(), 100);
  EXPECT_EQ(balance("bob").balance_cents(), 0);
  EXPECT_EQ(kinds("ada"), (std::vector{DEPOSIT}));
  EXPECT_TRUE(audit("bob").empty());
  // The refusal is the transfer's answer for good, even once the funds are there.
  Deposit more;
  more.set_amount_cents(1000);
  ASSERT_TRUE(node_->call<Balance>(account("ada"), more));
  auto again = transfer("t1", "ada", "bob", 101);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status(), REFUSED);
  EXPECT_EQ(balance("bob").balance_cents(), 0);
}

TEST_F(Transfers, ToAnAccountNotOpenIsRefundedAndTheDestinationGetsNothing) {
  open("ada", 500);
  auto t = transfer("t1", "ada", "nobody", 200);
  ASSERT_TRUE(t) << keel::message_of(t.error());
  EXPECT_EQ(t->status(), REFUNDED);
  EXPECT_EQ(t->reason(), "account nobody is not open");
  EXPECT_EQ(balance("ada").balance_cents(), 500);
  EXPECT_EQ(balance("ada").pending_out_cents(), 0);
  EXPECT_EQ(kinds("ada"), (std::vector{DEPOSIT, TRANSFER_OUT, REFUND}));
  expect_audit_matches_balance("ada");
  // Opened later, the account still refuses that transfer's credit: it was decided.
  open("nobody", 0);
  auto again = transfer("t1", "ada", "nobody", 200);
  ASSERT_TRUE(again) << keel::message_of(again.error());
  EXPECT_EQ(again->status(), REFUNDED);
  EXPECT_EQ(balance("nobody").balance_cents(), 0);
}

TEST_F(Transfers, MalformedRequestsAreRefusedWithBadPayload) {
  open("ada", 500);
  for (auto [id, to, cents] : {std::tuple{"", "bob", 1}, std::tuple{"t", "ada", 1},
                               std::tuple{"t", "bob", 0}, std::tuple{"t", "", 5}}) {
    auto t = transfer(id, "ada", to, cents);
    ASSERT_FALSE(t) << "id '" << id << "' to '" << to << "' " << cents;
    EXPECT_EQ(keel::code_of(t.error()), keel::errc::bad_payload) << keel::message_of(t.error());
  }
  EXPECT_EQ(kinds("ada"), (std::vector{DEPOSIT}));
}

}  // namespace
}  // namespace bank::test
