// Deadlines on a monotonic clock the test advances: an hour-long deadline passes in
// milliseconds of real time, and what happens before it is decided by the clock, not by
// how fast this machine is.
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/context.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/task.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;
using builtin::CounterState;
using builtin::CounterValue;
using builtin::Get;
using builtin::Increment;

class FakeClock : public ::testing::Test {
 protected:
  void SetUp() override {
    // Asks itself: the ask waits behind the turn that made it, so the call is answered
    // only by its deadline (the ask's own is a day away).
    types_.add_type<CounterState>("silent").on<Get>(
        [](const Get&, context& ctx) -> task<CounterValue> {
          auto answer = co_await ctx.ask<CounterValue>(ctx.self(), Get{});
          co_return answer ? *answer : CounterValue{};
        });
    register_counter(types_);
    runtime_options opts;
    opts.default_timeout = 24h;
    opts.idle_timeout = 60min;
    opts.monotonic = clock_;
    auto store = open_leveldb_store({dir_.sub("db"), true});
    ASSERT_TRUE(store) << message_of(store.error());
    node_.start(types_, std::move(*store), make_system_clock(), opts);
    ASSERT_TRUE(node_.rt);
  }

  temp_dir dir_;
  type_registry types_;
  std::shared_ptr<monotonic_clock> clock_ = std::make_shared<monotonic_clock>();
  local_runtime node_;
};

// A call due in an hour is answered `timeout` when the clock passes its deadline, and not
// before: the same call with the clock short of it is still open when the first times out.
TEST_F(FakeClock, ACallTimesOutWhenTheClockPassesItsDeadline) {
  auto call = [&](std::chrono::minutes in, const std::string& key) {
    auto answer = std::make_shared<std::promise<call_result>>();
    node_.rt->call(actor_id{"silent", key}, std::make_shared<Get>(), clock_->now() + in,
                   trace_id::make(), "test",
                   [answer](call_result r) { answer->set_value(std::move(r)); });
    return answer->get_future();
  };
  auto soon = call(60min, "s1");
  auto later = call(90min, "s2");
  clock_->advance(61min);
  ASSERT_EQ(soon.wait_for(10s), std::future_status::ready) << "no timeout past the deadline";
  auto r = soon.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::timeout) << message_of(r.error());
  EXPECT_EQ(later.wait_for(0s), std::future_status::timeout)
      << "a call 29 minutes short of its deadline was answered";
  clock_->advance(30min);
  ASSERT_EQ(later.wait_for(10s), std::future_status::ready);
  auto r2 = later.get();
  ASSERT_FALSE(r2);
  EXPECT_EQ(code_of(r2.error()), errc::timeout) << message_of(r2.error());
}

// A caller's callback that throws when the sweep times its call out ends neither the
// process (an exception leaving the sweeper's thread would) nor the sweeps: a later call
// still times out at its deadline.
TEST_F(FakeClock, ACallbackThatThrowsAtItsDeadlineLeavesTheSweepRunning) {
  auto threw = std::make_shared<std::promise<void>>();
  node_.rt->call(actor_id{"silent", "t1"}, std::make_shared<Get>(), clock_->now() + 60min,
                 trace_id::make(), "test", [threw](call_result) {
                   threw->set_value();
                   throw std::runtime_error("the caller's callback threw");
                 });
  auto answer = std::make_shared<std::promise<call_result>>();
  node_.rt->call(actor_id{"silent", "t2"}, std::make_shared<Get>(), clock_->now() + 90min,
                 trace_id::make(), "test",
                 [answer](call_result r) { answer->set_value(std::move(r)); });
  auto later = answer->get_future();
  clock_->advance(61min);
  ASSERT_EQ(threw->get_future().wait_for(10s), std::future_status::ready);
  clock_->advance(30min);
  ASSERT_EQ(later.wait_for(10s), std::future_status::ready) << "the sweeps stopped";
  auto r = later.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::timeout) << message_of(r.error());
}

// Idleness is the clock's: an activation whose last turn ended more than the idle timeout
// ago is passivated at the next idle check, one that ran a turn since is not. A durable
// turn records its end before its reply can leave, so the clock advanced the moment the
// reply is in counts from that turn.
TEST_F(FakeClock, AnActivationIsPassivatedOnceTheClockPassesItsIdleTimeout) {
  auto increment = [&](const std::string& key) {
    auto by_one = std::make_shared<Increment>();
    by_one->set_by(1);
    auto r = node_.rt->call_and_wait(actor_id{"counter", key}, by_one, 10s);
    ASSERT_TRUE(r) << message_of(r.error());
  };
  auto& passivations = node_.rt->metrics().passivations;
  ASSERT_NO_FATAL_FAILURE(increment("old"));
  clock_->advance(29min);
  ASSERT_NO_FATAL_FAILURE(increment("recent"));
  clock_->advance(32min);  // "old" idle 61 min, "recent" 32: the first idle check is due
  ASSERT_TRUE(eventually(
      [&] {
        return !node_.rt->is_active(actor_id{"counter", "old"});
      },
      10s))
      << "idle for 61 minutes of a 60-minute timeout, still active";
  EXPECT_TRUE(node_.rt->is_active(actor_id{"counter", "recent"}));
  EXPECT_EQ(passivations.value(), 1u);
  // Passivated, not lost: the next call activates it again on its stored state.
  ASSERT_NO_FATAL_FAILURE(increment("old"));
  auto value = node_.rt->call_and_wait(actor_id{"counter", "old"}, std::make_shared<Get>(), 10s);
  ASSERT_TRUE(value) << message_of(value.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**value).value(), 2);
}

// /v1/stats closes an interval when the runtime's clock passes it (5 s by default), not
// before, and the interval holds the turns run in it.
TEST_F(FakeClock, StatsCloseAnIntervalWhenTheClockPassesIt) {
  for (int i = 0; i < 3; ++i) {
    auto by_one = std::make_shared<Increment>();
    by_one->set_by(1);
    auto r = node_.rt->call_and_wait(actor_id{"counter", "s"}, by_one, 10s);
    ASSERT_TRUE(r) << message_of(r.error());
  }
  auto& stats = node_.rt->stats();
  EXPECT_EQ(stats.view("n1").interval_end_ms(), 0) << "closed before the clock passed 5 s";
  clock_->advance(5s);
  ASSERT_TRUE(eventually([&] { return stats.view("n1").history_size() == 1; }, 10s))
      << "no interval closed once the clock passed 5 s";
  auto view = stats.view("n1");
  const runtime::ActorTypeStats* counter = nullptr;
  for (const auto& row : view.types())
    if (row.type() == "counter") counter = &row;
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->turns(), 3u);
  EXPECT_EQ(counter->failures(), 0u);
  EXPECT_EQ(counter->activations(), 1u);
  ASSERT_EQ(view.hot_actors_size(), 1);
  EXPECT_EQ(view.hot_actors(0).actor(), "counter/s");
  EXPECT_EQ(view.hot_actors(0).turns(), 3u);
  EXPECT_EQ(view.history(0).turns(), 3u);
  EXPECT_EQ(view.history(0).durable_commits(), 3u);
}

}  // namespace
}  // namespace keel::test
