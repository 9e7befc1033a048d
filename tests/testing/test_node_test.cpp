// keel::testing::test_node, the node an application's tests start: its clocks move only
// when the test advances them, a restart keeps what was committed, and a call answers a
// typed reply or an error value.
#include <chrono>
#include <memory>

#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/testing/test_node.hpp"

namespace keel::testing {
namespace {

using namespace std::chrono_literals;
using builtin::CounterValue;
using builtin::Get;
using builtin::GetReminders;
using builtin::Increment;
using builtin::Remind;
using builtin::ReminderCount;

class TestNode : public ::testing::Test {
 protected:
  void SetUp() override {
    register_counter(types_);
    register_test_actors(types_);
    auto started = test_node::start(types_);
    ASSERT_TRUE(started) << message_of(started.error());
    node_ = std::move(*started);
  }

  int64_t fired(const actor_id& id) {
    auto count = node_->call<ReminderCount>(id, GetReminders{});
    EXPECT_TRUE(count) << message_of(count.error());
    return count ? count->fired() : -1;
  }

  type_registry types_;
  std::unique_ptr<test_node> node_;
};

// An hour-long reminder fires once the test advances the clock past it, in real
// milliseconds, and not while the clock is short of it.
TEST_F(TestNode, AReminderFiresWhenTheClockIsAdvancedPastItsDueTime) {
  const actor_id id{"remind", "r1"};
  Remind remind;
  remind.set_in_ms(3'600'000);
  ASSERT_TRUE(node_->call<ReminderCount>(id, remind));
  node_->advance(59min);
  auto commits = node_->commits();
  EXPECT_EQ(fired(id), 0) << "fired a minute early";
  node_->advance(2min);
  EXPECT_TRUE(node_->wait_until([&] { return fired(id) == 1; }, 10s))
      << "phase: the clock 1 min past the due time; fired " << fired(id) << " times";
  EXPECT_GT(node_->commits(), commits) << "the firing committed nothing";
}

// What was committed before restart() is what the new runtime serves; the clocks keep
// their time across it, so a reminder due before the restart fires after it.
TEST_F(TestNode, RestartServesWhatWasCommittedAndKeepsTheClocks) {
  const actor_id counter{"counter", "c1"};
  Increment by5;
  by5.set_by(5);
  ASSERT_TRUE(node_->call<CounterValue>(counter, by5));
  const actor_id reminder{"remind", "r2"};
  Remind remind;
  remind.set_in_ms(60'000);
  ASSERT_TRUE(node_->call<ReminderCount>(reminder, remind));
  node_->advance(30s);
  auto err = node_->restart();
  ASSERT_FALSE(err) << message_of(err);
  auto value = node_->call<CounterValue>(counter, Get{});
  ASSERT_TRUE(value) << message_of(value.error());
  EXPECT_EQ(value->value(), 5);
  EXPECT_EQ(fired(reminder), 0) << "phase: after the restart, 30 s short of the due time";
  node_->advance(31s);
  EXPECT_TRUE(node_->wait_until([&] { return fired(reminder) == 1; }, 10s))
      << "phase: after the restart, 1 s past the due time";
}

// A reply of another type than asked for is an error value naming it, not a crash.
TEST_F(TestNode, AReplyOfAnotherTypeIsAnAppError) {
  auto wrong = node_->call<ReminderCount>(actor_id{"counter", "c2"}, Get{});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(code_of(wrong.error()), errc::app_error) << message_of(wrong.error());
}

}  // namespace
}  // namespace keel::testing
