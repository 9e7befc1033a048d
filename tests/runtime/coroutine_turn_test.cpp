// Coroutine turns on a real node runtime and LevelDB: a handler returning task<> awaits its
// asks inside its turn, and keeps every rule a continuation ask keeps (turns never
// interleave, state commits when the turn ends, a throw fails it, a stop frees its frame).
#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/task.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;
using namespace keel::builtin;

const actor_id echo{"echo", "e"};
const actor_id latch_actor{"latch", "l"};

// Holds the `latch` actor's turns (and so one scheduler worker) until opened: an ask to it
// stays unanswered for as long as a test needs. Waits at most 10 s, so a failing test ends.
class latch {
 public:
  void open() {
    {
      std::lock_guard guard{mutex_};
      open_ = true;
    }
    changed_.notify_all();
  }
  void pass() {
    std::unique_lock lock{mutex_};
    ++entered_;
    changed_.notify_all();
    changed_.wait_for(lock, 10s, [this] { return open_; });
  }
  bool wait_entered(int n) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int entered_ = 0;
};

Echo echo_of(std::string text) {
  Echo m;
  m.set_text(std::move(text));
  return m;
}

std::string text_of(const caf::expected<Echo>& r) {
  return r ? r->text() : std::string{code_name(code_of(r.error()))};
}

// Counts coroutine frames destroyed, and resumptions after an ask, of `coro` turns.
std::atomic<int> frames_destroyed{0};
std::atomic<int> resumed{0};
struct frame_probe {
  ~frame_probe() { ++frames_destroyed; }
};

// `coro`: its state's `names` log what its turns did, in order.
// Echo{text, flag}: logs "begin", asks echo (flag: the latch) for the text, logs "end".
// Relay{type, key}: asks that actor for Echo{"r"} and logs what came back, error or not.
// Fail: asks echo twice at once, once for an error, and awaits both together.
// Bump: asks echo three times at once and awaits them as one vector.
// Forward: starts two asks, then awaits the second one first.
// Throw: logs, asks echo, then throws.
// Forget: logs, then waits on something that is not an ask.
void register_coro(type_registry& types) {
  types.add_type<ReminderCount>("coro")
      .on<Echo>([](const Echo& m, context& ctx) -> task<Echo> {
        frame_probe probe;
        ctx.state<ReminderCount>().add_names("begin " + m.text());
        auto answer = co_await ctx.ask<Echo>(m.flag() ? latch_actor : echo, echo_of(m.text()));
        ++resumed;
        ctx.state<ReminderCount>().add_names("end " + m.text() + " " + text_of(answer));
        co_return echo_of(text_of(answer));
      })
      .on<Relay>([](const Relay& m, context& ctx) -> task<Echo> {
        auto answer =
            co_await ctx.ask<Echo>(actor_id{m.target_type(), m.target_key()}, echo_of("r"));
        ctx.state<ReminderCount>().add_names("relay " + text_of(answer));
        co_return echo_of(text_of(answer));
      })
      .on<Fail>([](const Fail& m, context& ctx) -> task<Echo> {
        Fail fail;
        fail.set_code(m.code());
        auto [a, b] =
            co_await when_all(ctx.ask<Echo>(echo, echo_of("a")), ctx.ask<Echo>(echo, fail));
        co_return echo_of(text_of(a) + "|" + text_of(b));
      })
      .on<Bump>([](const Bump&, context& ctx) -> task<Echo> {
        std::vector<pending_ask<Echo>> asks;
        for (const auto* text : {"p", "q", "r"}) asks.push_back(ctx.ask<Echo>(echo, echo_of(text)));
        auto answers = co_await when_all(std::move(asks));
        std::string joined;
        for (const auto& answer : answers) joined += text_of(answer);
        co_return echo_of(joined);
      })
      .on<Forward>([](const Forward&, context& ctx) -> task<Echo> {
        auto first = ctx.ask<Echo>(echo, echo_of("x"));
        auto second = ctx.ask<Echo>(echo, echo_of("y"));
        auto y = co_await second;
        auto x = co_await first;
        co_return echo_of(text_of(x) + text_of(y));
      })
      .on<Throw>([](const Throw& m, context& ctx) -> task<Echo> {
        ctx.state<ReminderCount>().add_names("throw begin");
        auto answer = co_await ctx.ask<Echo>(echo, echo_of("t"));
        ctx.state<ReminderCount>().add_names("throw after " + text_of(answer));
        throw std::runtime_error(m.message());
      })
      .on<Forget>([](const Forget&, context& ctx) -> task<Echo> {
        frame_probe probe;
        ctx.state<ReminderCount>().add_names("suspended");
        co_await std::suspend_always{};
        ++resumed;
        co_return Echo{};
      })
      .on<GetReminders>(
          [](const GetReminders&, context& ctx) { return ctx.view<ReminderCount>(); });
}

class CoroutineTurn : public ::testing::Test {
 protected:
  CoroutineTurn() {
    register_test_actors(types_);
    register_coro(types_);
    types_.add_stateless("latch", 1).on<Echo>([this](const Echo& m, context&) {
      latch_.pass();
      return m;
    });
    frames_destroyed = 0;
    resumed = 0;
    start();
  }
  ~CoroutineTurn() override {
    latch_.open();
    stop();
  }

  void start() { node_.start(types_, {dir_.sub("db"), true}); }
  void stop() { node_.stop(); }

  template <class M>
  call_result call(const actor_id& target, M m, std::chrono::milliseconds timeout = 5s) {
    return node_.rt->call_and_wait(target, std::make_shared<M>(std::move(m)), timeout);
  }

  // The reply's text, or the error's code name.
  template <class M>
  std::string call_text(const actor_id& target, M m, std::chrono::milliseconds timeout = 5s) {
    auto r = call(target, std::move(m), timeout);
    return r ? static_cast<const Echo&>(**r).text() : std::string{code_name(code_of(r.error()))};
  }

  std::vector<std::string> log_of(const actor_id& id) {
    auto r = call(id, GetReminders{});
    EXPECT_TRUE(r) << message_of(r.error());
    if (!r) return {};
    const auto& names = static_cast<const ReminderCount&>(**r).names();
    return {names.begin(), names.end()};
  }

  // Sends `m` to `target` without waiting: the envelope is in the activation's mailbox
  // (or spawned it) when this returns.
  template <class M>
  std::future<call_result> send(const actor_id& target, M m) {
    auto done = std::make_shared<std::promise<call_result>>();
    auto future = done->get_future();
    node_.rt->call(target, std::make_shared<M>(std::move(m)),
                   std::chrono::steady_clock::now() + 10s, trace_id::make(), "test",
                   [done](call_result r) { done->set_value(std::move(r)); });
    return future;
  }

  test::temp_dir dir_;
  type_registry types_;
  latch latch_;
  test::local_runtime node_;
};

TEST_F(CoroutineTurn, OneAskResumesInTheSameTurnAndRepliesWithWhatItReturns) {
  const actor_id id{"coro", "one"};
  EXPECT_EQ(call_text(id, echo_of("hi")), "hi");
  EXPECT_EQ(log_of(id), (std::vector<std::string>{"begin hi", "end hi hi"}));
  EXPECT_EQ(frames_destroyed.load(), 1);
}

TEST_F(CoroutineTurn, TwoAsksInFlightAreAwaitedTogetherEachWithItsOwnAnswer) {
  const actor_id id{"coro", "two"};
  Fail conflict;
  conflict.set_code("conflict");
  EXPECT_EQ(call_text(id, conflict), "a|conflict");
  EXPECT_EQ(call_text(id, Forward{}), "xy");
  EXPECT_EQ(call_text(id, Bump{}), "pqr");
}

TEST_F(CoroutineTurn, AskErrorsAndTimeoutsArriveAsErrorValuesNotExceptions) {
  const actor_id id{"coro", "errors"};
  Relay nowhere;
  nowhere.set_target_type("nosuch");
  nowhere.set_target_key("k");
  EXPECT_EQ(call_text(id, nowhere), "unknown_actor_type");
  Relay stuck;
  stuck.set_target_type("latch");
  stuck.set_target_key("l");
  // The ask inherits the call's deadline: both time out; the coroutine still logs it. The
  // latch stays closed until the turn has ended, so the timeout wins over its answer.
  EXPECT_EQ(call_text(id, stuck, 300ms), "timeout");
  EXPECT_EQ(log_of(id), (std::vector<std::string>{"relay unknown_actor_type", "relay timeout"}));
  latch_.open();
}

TEST_F(CoroutineTurn, SecondMessageSentWhileTheCoroutineWaitsRunsOnlyAfterItsTurn) {
  const actor_id id{"coro", "order"};
  auto held = echo_of("1");
  held.set_flag(true);  // asks the latch, which holds the answer
  auto first = send(id, held);
  ASSERT_TRUE(latch_.wait_entered(1)) << "phase: the first turn's ask reaching the latch";
  auto second = send(id, echo_of("2"));  // queued while the first turn waits
  latch_.open();
  auto r1 = first.get();
  auto r2 = second.get();
  ASSERT_TRUE(r1) << message_of(r1.error());
  ASSERT_TRUE(r2) << message_of(r2.error());
  EXPECT_EQ(log_of(id), (std::vector<std::string>{"begin 1", "end 1 1", "begin 2", "end 2 2"}));
}

TEST_F(CoroutineTurn, StateWrittenAcrossAnAwaitCommitsAtReturnAndSurvivesARestart) {
  const actor_id id{"coro", "durable"};
  ASSERT_EQ(call_text(id, echo_of("a")), "a");
  ASSERT_EQ(call_text(id, echo_of("b")), "b");
  stop();
  start();
  EXPECT_EQ(log_of(id), (std::vector<std::string>{"begin a", "end a a", "begin b", "end b b"}));
}

TEST_F(CoroutineTurn, ExceptionAfterAnAwaitFailsTheTurnAndWritesNothing) {
  const actor_id id{"coro", "throws"};
  ASSERT_EQ(call_text(id, echo_of("kept")), "kept");
  Throw t;
  t.set_message("boom");
  auto r = call(id, t);
  ASSERT_FALSE(r) << "a coroutine that threw answered";
  EXPECT_EQ(code_of(r.error()), errc::app_error);
  EXPECT_NE(message_of(r.error()).find("threw: boom"), std::string::npos) << message_of(r.error());
  const std::vector<std::string> committed{"begin kept", "end kept kept"};
  EXPECT_EQ(log_of(id), committed);
  stop();
  start();
  EXPECT_EQ(log_of(id), committed);
}

// CAF keeps an activation told to stop until its awaited answers are in, so a stop lets a
// waiting turn end (at the latest its deadline answers the ask); then the frame goes.
TEST_F(CoroutineTurn, StopWhileTheCoroutineWaitsLetsItsTurnEndAndFreesItsFrameOnce) {
  const actor_id id{"coro", "stopped"};
  auto held = echo_of("late");
  held.set_flag(true);
  auto reply = send(id, held);
  ASSERT_TRUE(latch_.wait_entered(1)) << "phase: the ask reaching the latch";
  auto stopped = std::async(std::launch::async, [this] { node_.rt->stop(); });
  // A stopping runtime refuses new calls: once it does, the stop is under way.
  bool refused = false;
  for (int i = 0; i < 100000 && !refused; ++i) {
    auto r = call(echo, echo_of("probe"));
    refused = !r && code_of(r.error()) == errc::unavailable;
  }
  ASSERT_TRUE(refused) << "phase: the stop refusing new calls";
  latch_.open();
  ASSERT_EQ(reply.wait_for(5s), std::future_status::ready) << "phase: the caller's answer";
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready) << "phase: the stop returning";
  auto r = reply.get();
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(static_cast<const Echo&>(**r).text(), "late");
  EXPECT_EQ(resumed.load(), 1);
  EXPECT_EQ(frames_destroyed.load(), 1);
}

// Nothing but an ask can resume a turn's coroutine: one suspended on anything else would
// hold its actor forever. The turn fails instead and destroys the frame unresumed.
TEST_F(CoroutineTurn, CoroutineWaitingOnSomethingOtherThanAnAskFailsItsTurnAndIsFreed) {
  const actor_id id{"coro", "stuck"};
  auto r = call(id, Forget{});
  ASSERT_FALSE(r) << "a coroutine that never resumed answered";
  EXPECT_EQ(code_of(r.error()), errc::app_error) << message_of(r.error());
  EXPECT_EQ(frames_destroyed.load(), 1);
  EXPECT_EQ(resumed.load(), 0);
  EXPECT_EQ(log_of(id), std::vector<std::string>{});  // the failed turn wrote nothing
}

}  // namespace
}  // namespace keel
