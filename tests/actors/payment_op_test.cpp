#include "keel/rideshare/payment_op.hpp"

#include <gtest/gtest.h>

namespace keel::rideshare {
namespace {

// The names are stored (ride outboxes, payment queues) and form the processor's
// idempotency keys: renaming one would strand what older versions wrote.
TEST(PaymentOp, NamesAreTheStoredOnesAndParseBack) {
  EXPECT_EQ(name_of(payment_op::create), "create");
  EXPECT_EQ(name_of(payment_op::authorize), "authorize");
  EXPECT_EQ(name_of(payment_op::capture), "capture");
  EXPECT_EQ(name_of(payment_op::void_payment), "void");
  for (auto op : {payment_op::create, payment_op::authorize, payment_op::capture,
                  payment_op::void_payment})
    EXPECT_EQ(parse_payment_op(name_of(op)), op);
  EXPECT_EQ(parse_payment_op("refund"), std::nullopt);
  EXPECT_EQ(parse_payment_op(""), std::nullopt);
  EXPECT_EQ(parse_payment_op("Void"), std::nullopt);
}

}  // namespace
}  // namespace keel::rideshare
