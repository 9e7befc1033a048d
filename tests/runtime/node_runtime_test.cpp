#include "keel/runtime/node_runtime.hpp"

#include <atomic>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/node_fence.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/counter_messages.hpp"
#include "keel/test/eventually.hpp"
#include "keel/test/faulty_store.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;
using namespace keel::builtin;
using test::eventually;

using test::inc;
using test::msg;

// A read-modify-write turn that waits on another actor between the read and the write:
// if two turns ever interleaved, both would read the same value and one increment would
// be lost.
void register_rmw(type_registry& types, const std::string& name, bool reentrant) {
  auto builder = types.add_type<CounterState>(name);
  builder.on_async<Increment>([](const Increment&, context& ctx) {
    auto before = ctx.state<CounterState>().value();
    ctx.ask<Echo>(actor_id{"echo", "x"}, Echo{}, [&ctx, before](caf::expected<Echo> answer) {
      if (!answer) return ctx.reply(answer.error());
      ctx.state<CounterState>().set_value(before + 1);
      CounterValue out;
      out.set_value(before + 1);
      ctx.reply(out);
    });
  });
  builder.on<Get>([](const Get&, context& ctx) {
    CounterValue out;
    out.set_value(ctx.state<CounterState>().value());
    return out;
  });
  if (reentrant) builder.reentrant();
}

// A ledger of named lines kept as entries. Echo{text, number} sets line `text` to `number`
// (flag: erases it); a positive number is also counted in the state, so a zero or an erase
// changes entries only; a negative number is written, then refused, so the turn fails after
// changing an entry. Get lists "name=value" lines (in ReminderCount.names) and the count
// (in .fired), read inside one turn. Forward tells counter/<counterKey> Increment{by} and
// writes nothing.
void register_ledger(type_registry& types, const std::string& name, bool with_entries) {
  auto builder = types.add_type<CounterState>(name);
  builder.on<Echo>([](const Echo& m, context& ctx) -> caf::expected<CounterValue> {
    if (m.flag())
      ctx.erase_entry(m.text());
    else {
      CounterValue line;
      line.set_value(m.number());
      ctx.put_entry(m.text(), line);
    }
    if (m.number() > 0) ctx.state<CounterState>().set_value(ctx.view<CounterState>().value() + 1);
    if (m.number() < 0) return make_error(errc::conflict, "negative line refused");
    CounterValue seen;  // what this turn reads back of its own change
    auto line = ctx.entry<CounterValue>(m.text());
    seen.set_value(line ? line->value() : -1);
    return seen;
  });
  builder.on<Get>([](const Get&, context& ctx) {
    ReminderCount out;
    out.set_fired(ctx.view<CounterState>().value());
    for (const auto& [line, value] : ctx.entries<CounterValue>())
      out.add_names(line + "=" + std::to_string(value.value()));
    return out;
  });
  builder.on<Forward>([](const Forward& m, context& ctx) {
    Increment inc;
    inc.set_by(m.by());
    ctx.tell(actor_id{"counter", m.counter_key()}, inc);
    return CounterValue{};
  });
  if (with_entries) builder.with_entries();
}

// While closed, a `gated` actor's reminder turn waits (at most 10 s) for it to open: firings
// then pile up in flight, which shows how many the node sends at once.
class gate {
 public:
  void close() {
    std::lock_guard guard{mutex_};
    open_ = false;
  }
  void open() {
    {
      std::lock_guard guard{mutex_};
      open_ = true;
    }
    opened_.notify_all();
  }
  void pass() {
    std::unique_lock lock{mutex_};
    opened_.wait_for(lock, 10s, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = true;
};
gate reminder_gate;

// The system clock moved ahead by `ahead`: a restart "later" without waiting for it.
class shifted_clock final : public wall_clock {
 public:
  int64_t now_ms() const override { return system_->now_ms() + ahead.load(); }
  std::atomic<int64_t> ahead{0};

 private:
  std::shared_ptr<wall_clock> system_ = make_system_clock();
};

void register_gated(type_registry& types) {
  types.add_type<ReminderCount>("gated")
      .on<Remind>([](const Remind& m, context& ctx) {
        ctx.register_reminder("r", std::chrono::milliseconds{m.in_ms()}, 0ms);
        return ctx.state<ReminderCount>();
      })
      .on<GetReminders>(
          [](const GetReminders&, context& ctx) { return ctx.state<ReminderCount>(); })
      .on_reminder([](const std::string&, context& ctx) {
        reminder_gate.pass();
        ctx.state<ReminderCount>().set_fired(ctx.view<ReminderCount>().fired() + 1);
      });
}

class NodeRuntime : public ::testing::Test {
 protected:
  NodeRuntime() {
    register_counter(types_);
    register_test_actors(types_);
    register_rmw(types_, "rmw", false);
    register_rmw(types_, "rmw_reentrant", true);
    register_ledger(types_, "ledger", true);
    register_ledger(types_, "no_entries", false);
    register_gated(types_);
  }

  ~NodeRuntime() override { stop(); }

  void start(runtime_options opts = {}) {
    auto store = open_leveldb_store({dir_.sub("db"), true});
    ASSERT_TRUE(store) << message_of(store.error());
    auto faulty = std::make_unique<test::faulty_store>(std::move(*store));
    faulty_ = faulty.get();
    faulty_->fail_next_scans = fail_scans_at_start_;
    node_.start(types_, std::move(faulty), clock_, opts);
    ASSERT_TRUE(node_.rt) << "phase: starting the runtime";
    rt_ = node_.rt.get();
  }

  void stop() {
    rt_ = nullptr;
    node_.stop();
  }

  call_result call(const actor_id& target, message_ptr m, std::chrono::milliseconds timeout = 5s) {
    return rt_->call_and_wait(target, std::move(m), timeout);
  }

  int64_t counter_value(const actor_id& id) {
    auto r = call(id, msg(Get{}));
    EXPECT_TRUE(r) << message_of(r.error());
    return r ? static_cast<const CounterValue&>(**r).value() : -1;
  }

  // The ledger's lines, "name=value" in name order, and its change count.
  std::pair<std::vector<std::string>, int64_t> ledger(const actor_id& id) {
    auto r = call(id, msg(Get{}));
    EXPECT_TRUE(r) << message_of(r.error());
    if (!r) return {};
    const auto& listing = static_cast<const ReminderCount&>(**r);
    return {{listing.names().begin(), listing.names().end()}, listing.fired()};
  }

  call_result set_line(const actor_id& id, const std::string& name, int32_t value) {
    Echo m;
    m.set_text(name);
    m.set_number(value);
    return call(id, msg(m));
  }

  call_result erase_line(const actor_id& id, const std::string& name) {
    Echo m;
    m.set_text(name);
    m.set_flag(true);
    return call(id, msg(m));
  }

  // Registers a reminder of `id` (a `remind` actor) due in `in_ms`, every `period_ms` if set.
  void arm_reminder(const actor_id& id, int32_t in_ms, int32_t period_ms = 0) {
    Remind remind;
    remind.set_in_ms(in_ms);
    remind.set_period_ms(period_ms);
    auto r = call(id, msg(remind));
    ASSERT_TRUE(r) << message_of(r.error());
  }

  ReminderCount reminder_state(const actor_id& id) {
    auto r = call(id, msg(GetReminders{}));
    EXPECT_TRUE(r) << message_of(r.error());
    return r ? static_cast<const ReminderCount&>(**r) : ReminderCount{};
  }

  // Makes the disk hold every write, then sends an increment of `id` and waits (≤ 5 s)
  // until its commit is inside the held write. An invalid future if it never got there.
  std::future<call_result> increment_held_at_the_disk(const actor_id& id, int64_t by) {
    faulty_->writes_started = 0;
    faulty_->hold_writes = true;
    auto reply = std::async(std::launch::async, [this, id, by] { return call(id, msg(inc(by))); });
    if (!eventually([&] { return faulty_->writes_started.load() == 1; }, 5s)) return {};
    return reply;
  }

  test::temp_dir dir_;
  type_registry types_;
  std::shared_ptr<shifted_clock> clock_ = std::make_shared<shifted_clock>();
  test::local_runtime node_;
  node_runtime* rt_ = nullptr;  // node_'s, while it runs
  test::faulty_store* faulty_ = nullptr;
  int fail_scans_at_start_ = 0;  // the next start's store fails this many scans first
};

TEST_F(NodeRuntime, ActivatesOnFirstMessageWithLoadedState) {
  start();
  actor_id id{"counter", "c1"};
  EXPECT_FALSE(rt_->is_active(id));
  EXPECT_EQ(rt_->metrics().activations.value(), 0);
  auto r = call(id, msg(inc(5)));
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**r).value(), 5);
  EXPECT_TRUE(rt_->is_active(id));
  EXPECT_EQ(rt_->metrics().activations.value(), 1);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 1u);
}

TEST_F(NodeRuntime, ConcurrentReadModifyWriteTurnsNeverInterleave) {
  start();
  constexpr int calls = 200;
  std::vector<std::future<call_result>> replies;
  for (int i = 0; i < calls; ++i) {
    replies.push_back(std::async(std::launch::async, [this] {
      return call(actor_id{"rmw", "one"}, msg(inc(1)), 20s);
    }));
  }
  std::set<int64_t> seen;
  for (auto& f : replies) {
    auto r = f.get();
    ASSERT_TRUE(r) << message_of(r.error());
    seen.insert(static_cast<const CounterValue&>(**r).value());
  }
  // Each turn saw the previous one's write: the replies are exactly 1..200, no duplicate.
  ASSERT_EQ(seen.size(), static_cast<size_t>(calls));
  EXPECT_EQ(*seen.begin(), 1);
  EXPECT_EQ(*seen.rbegin(), calls);
  EXPECT_EQ(counter_value(actor_id{"rmw", "one"}), calls);
}

TEST_F(NodeRuntime, ReentrantTypeDetectsInterleavingAsConflict) {
  start();
  constexpr int calls = 50;
  std::vector<std::future<call_result>> replies;
  for (int i = 0; i < calls; ++i)
    replies.push_back(std::async(std::launch::async, [this] {
      return call(actor_id{"rmw_reentrant", "one"}, msg(inc(1)), 20s);
    }));
  int ok = 0;
  for (auto& f : replies) {
    auto r = f.get();
    if (r)
      ++ok;
    else
      EXPECT_EQ(code_of(r.error()), errc::conflict) << message_of(r.error());
  }
  // Interleaved turns that lost the race were refused, never silently overwritten.
  EXPECT_EQ(counter_value(actor_id{"rmw_reentrant", "one"}), ok);
}

TEST_F(NodeRuntime, StateSurvivesPassivation) {
  runtime_options opts;
  opts.idle_timeout = 100ms;
  start(opts);
  actor_id id{"counter", "p1"};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(id, msg(inc(2))));
  ASSERT_TRUE(eventually([&] { return rt_->metrics().activations.value() == 0; }, 5s))
      << "phase: waiting for counter/p1 to passivate";
  EXPECT_EQ(rt_->metrics().passivations.value(), 1u);
  EXPECT_EQ(counter_value(id), 6);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 2u);
}

TEST_F(NodeRuntime, ThrowingHandlerKeepsLastCommittedStateAndKeepsServing) {
  start();
  actor_id id{"thrower", "t1"};
  ASSERT_TRUE(call(id, msg(Bump{})));
  ASSERT_TRUE(call(id, msg(Bump{})));
  Throw t;
  t.set_message("boom");
  auto r = call(id, msg(t));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::app_error);
  EXPECT_NE(message_of(r.error()).find("boom"), std::string::npos);
  auto after = call(id, msg(Bump{}));
  ASSERT_TRUE(after) << message_of(after.error());
  EXPECT_EQ(static_cast<const Bumped&>(**after).count(), 3);  // not -1000 + 1
  EXPECT_EQ(rt_->metrics().activations_started.value(), 1u);  // same activation
}

// keel_durable_turns_total counts turns that wrote; a read, even one that waited behind an
// unsettled commit, a turn that changed nothing and a failed one do not count.
// int64 addition past either end wrapped (and is undefined behaviour in C++): a counter at
// INT64_MAX incremented by 1 answered INT64_MIN.
TEST_F(NodeRuntime, CounterRefusesAnIncrementThatWouldOverflowAndKeepsItsValue) {
  start();
  constexpr auto max = std::numeric_limits<int64_t>::max();
  constexpr auto min = std::numeric_limits<int64_t>::min();
  actor_id high{"counter", "high"}, low{"counter", "low"};
  ASSERT_TRUE(call(high, msg(inc(max))));
  ASSERT_TRUE(call(low, msg(inc(min))));
  auto writes_before = rt_->metrics().durable_turns.value();
  auto over = call(high, msg(inc(1)));
  ASSERT_FALSE(over);
  EXPECT_EQ(code_of(over.error()), errc::conflict);
  EXPECT_EQ(message_of(over.error()),
            "Increment by 1 would overflow the counter's value 9223372036854775807 (int64)");
  auto under = call(low, msg(inc(-1)));
  ASSERT_FALSE(under);
  EXPECT_EQ(code_of(under.error()), errc::conflict);
  EXPECT_EQ(message_of(under.error()),
            "Increment by -1 would overflow the counter's value -9223372036854775808 (int64)");
  EXPECT_EQ(rt_->metrics().durable_turns.value(), writes_before);  // nothing was written
  EXPECT_EQ(counter_value(high), max);
  EXPECT_EQ(counter_value(low), min);
  ASSERT_TRUE(call(high, msg(inc(min))));  // the whole range stays usable
  EXPECT_EQ(counter_value(high), -1);
  stop();
  start();
  EXPECT_EQ(counter_value(low), min);
}

TEST_F(NodeRuntime, DurableTurnsCountOnlyTurnsThatWrote) {
  start();
  actor_id id{"counter", "d1"};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(call(id, msg(inc(1))));
  auto held = increment_held_at_the_disk(id, 1);
  ASSERT_TRUE(held.valid()) << "phase: waiting for the increment's commit to reach the disk";
  auto read = std::async(std::launch::async, [&] { return call(id, msg(Get{})); });
  ASSERT_TRUE(eventually([&] { return rt_->metrics().calls_pending.value() == 2; }, 5s))
      << "phase: the read waiting behind the held commit";
  faulty_->hold_writes = false;
  ASSERT_TRUE(held.get());
  ASSERT_TRUE(read.get());
  ASSERT_TRUE(call(id, msg(inc(0))));  // changes nothing
  ASSERT_FALSE(call(actor_id{"thrower", "d1"}, msg(Refuse{})));
  EXPECT_EQ(rt_->metrics().durable_turns.value(), 6u);
}

// A turn writes its actor's state in place; a turn that answers an error must leave what
// the last successful turn wrote, in memory and on disk, and commit nothing.
TEST_F(NodeRuntime, TurnThatAnswersAnErrorAfterWritingLeavesTheLastCommittedState) {
  start();
  actor_id id{"thrower", "e1"};
  ASSERT_TRUE(call(id, msg(Bump{})));
  ASSERT_TRUE(call(id, msg(Bump{})));
  auto r = call(id, msg(Refuse{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::conflict);
  auto after = call(id, msg(Bump{}));
  ASSERT_TRUE(after) << message_of(after.error());
  EXPECT_EQ(static_cast<const Bumped&>(**after).count(), 3);  // not -2000 + 1
  stop();
  start();
  auto reloaded = call(id, msg(Bump{}));
  ASSERT_TRUE(reloaded) << message_of(reloaded.error());
  EXPECT_EQ(static_cast<const Bumped&>(**reloaded).count(), 4);
}

// A store that refuses a write (nothing written) fails the turn with 503 `unavailable`:
// it did not happen.
TEST_F(NodeRuntime, RefusedCommitAnswersUnavailableAndMemoryStillMatchesDisk) {
  start();
  actor_id id{"counter", "f1"};
  ASSERT_TRUE(call(id, msg(inc(1))));
  faulty_->fail_writes = true;
  auto r = call(id, msg(inc(10)));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unavailable);
  faulty_->fail_writes = false;
  EXPECT_EQ(counter_value(id), 1);
  ASSERT_TRUE(call(id, msg(inc(1))));
  EXPECT_EQ(counter_value(id), 2);
}

// Turns are pipelined: the next one starts while the previous commit syncs. A reply must
// still never show state that is not durable yet.
TEST_F(NodeRuntime, ReadBehindAnUnsyncedWriteIsAnsweredOnlyOnceTheWriteIsDurable) {
  start();
  actor_id id{"counter", "r1"};
  ASSERT_TRUE(call(id, msg(inc(1))));
  auto write = increment_held_at_the_disk(id, 5);
  ASSERT_TRUE(write.valid()) << "phase: waiting for the increment's commit to reach the disk";
  auto read = std::async(std::launch::async, [&] { return call(id, msg(Get{})); });
  EXPECT_EQ(read.wait_for(300ms), std::future_status::timeout)
      << "the read was answered while the write it saw was not durable";
  faulty_->hold_writes = false;
  auto w = write.get();
  auto r = read.get();
  ASSERT_TRUE(w && r);
  EXPECT_EQ(static_cast<const CounterValue&>(**w).value(), 6);
  EXPECT_EQ(static_cast<const CounterValue&>(**r).value(), 6);
}

// When a commit fails, every turn pipelined behind it worked on lost state: all of them fail
// (no reply acknowledges a write that is not on disk), then the activation reloads what is.
TEST_F(NodeRuntime, FailedCommitFailsEveryTurnPipelinedBehindItThenServesDurableState) {
  start();
  actor_id id{"counter", "f2"};
  ASSERT_TRUE(call(id, msg(inc(1))));
  auto first = increment_held_at_the_disk(id, 1);
  ASSERT_TRUE(first.valid()) << "phase: waiting for the first commit to reach the disk";
  std::vector<std::future<call_result>> behind;
  for (int i = 0; i < 20; ++i)
    behind.push_back(std::async(std::launch::async,
                                [&, i] { return call(id, i % 2 ? msg(Get{}) : msg(inc(1))); }));
  ASSERT_TRUE(eventually([&] { return rt_->metrics().turns() >= 22; }, 5s))
      << "phase: waiting for the 20 turns to run on top of the unsynced one";
  faulty_->fail_writes = true;
  faulty_->hold_writes = false;
  auto r = first.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unavailable);
  for (auto& f : behind) {
    auto later = f.get();
    ASSERT_FALSE(later) << "a turn behind the failed commit was acknowledged";
  }
  faulty_->fail_writes = false;
  EXPECT_EQ(counter_value(id), 1);
  ASSERT_TRUE(call(id, msg(inc(1))));
  EXPECT_EQ(counter_value(id), 2);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 1u);  // reloaded, not restarted
}

TEST_F(NodeRuntime, DeadlineGivesTimeoutAndReleasesTheCall) {
  start();
  Sleep s;
  s.set_ms(300);
  auto r = call(actor_id{"slow", "s1"}, msg(s), 50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::timeout);
  EXPECT_NE(message_of(r.error()).find("slow/s1"), std::string::npos);
  EXPECT_EQ(rt_->metrics().calls_timed_out.value(), 1u);
  ASSERT_TRUE(eventually([&] { return rt_->metrics().calls_pending.value() == 0; }, 2s))
      << "phase: waiting for the sweep to forget the timed-out call";
}

TEST_F(NodeRuntime, TimeoutNamesTheChainOfActorsWaitedOn) {
  start();
  Relay relay;
  relay.set_target_type("slow");
  relay.set_target_key("s2");
  // Both activated first: on a loaded host, loading them could take the whole deadline and
  // the relay's ask would not have left when it passed (this failed 1 run in 3 or 5).
  ASSERT_TRUE(call(actor_id{"relay", "r1"}, msg(relay)));
  relay.set_sleep_ms(1500);
  auto r = call(actor_id{"relay", "r1"}, msg(relay), 500ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::timeout);
  EXPECT_NE(message_of(r.error()).find("relay/r1 -> slow/s2"), std::string::npos)
      << message_of(r.error());
}

TEST_F(NodeRuntime, UnknownTypeAndMessageHaveTheirCodes) {
  start();
  auto r = call(actor_id{"nope", "x"}, msg(Get{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unknown_actor_type);
  r = call(actor_id{"counter", "x"}, msg(Sleep{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unknown_message);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 0u);  // junk activates nothing
}

// An actor left alone leaves once a whole idle timeout has passed on the runtime's clock;
// one called again within every timeout stays, and leaves once it is left alone too. The
// clock is moved by the test, so a loaded machine cannot make either leave early or late.
TEST_F(NodeRuntime, AnActorInUseStaysWhileAnIdleOneLeavesAndLeavesOnceLeftAlone) {
  runtime_options opts;
  opts.idle_timeout = 60s;
  auto clock = std::make_shared<monotonic_clock>();
  opts.monotonic = clock;
  start(opts);
  actor_id busy{"counter", "busy"};
  int64_t calls = 0;
  for (int round = 0; round < 2; ++round) {
    actor_id witness{"counter", "witness" + std::to_string(round)};
    ASSERT_TRUE(call(witness, msg(inc(1))));
    // busy is called every 40 s of the clock; the witness is idle for 80 s.
    for (int step = 0; step < 2; ++step) {
      clock->advance(40s);
      auto r = call(busy, msg(inc(1)));
      ASSERT_TRUE(r) << "phase: round " << round << ": " << message_of(r.error());
      ++calls;
    }
    ASSERT_TRUE(eventually([&] { return !rt_->is_active(witness); }, 5s))
        << "phase: round " << round << ": waiting for " << to_string(witness) << " to leave";
    EXPECT_TRUE(rt_->is_active(busy)) << "phase: round " << round;
    EXPECT_EQ(rt_->metrics().passivations.value(), uint64_t(round) + 1)
        << "phase: round " << round << ": only the witness left";
  }
  EXPECT_EQ(counter_value(busy), calls);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 3u) << "busy was never started again";
  clock->advance(61s);
  ASSERT_TRUE(eventually([&] { return !rt_->is_active(busy); }, 5s))
      << "phase: waiting for counter/busy to passivate once left alone";
  EXPECT_EQ(rt_->metrics().passivations.value(), 3u);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 3u);
}

TEST_F(NodeRuntime, TenThousandActorsActivateThenAllPassivate) {
  runtime_options opts;
  opts.idle_timeout = 300ms;
  start(opts);
  constexpr int actors = 10000;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  std::promise<void> all_done;
  for (int i = 0; i < actors; ++i) {
    rt_->call(actor_id{"counter", "k" + std::to_string(i)}, msg(inc(1)),
              std::chrono::steady_clock::now() + 30s, trace_id::make(), "test", [&](call_result r) {
                if (r && static_cast<const CounterValue&>(**r).value() == 1) ++ok;
                if (++answered == actors) all_done.set_value();
              });
  }
  all_done.get_future().wait();
  EXPECT_EQ(ok.load(), actors);
  EXPECT_EQ(rt_->metrics().activations_started.value(), static_cast<uint64_t>(actors));
  ASSERT_TRUE(eventually([&] { return rt_->metrics().activations.value() == 0; }, 20s))
      << "phase: waiting for 10,000 activations to passivate; live: "
      << rt_->metrics().activations.value();
  EXPECT_EQ(rt_->metrics().passivations.value(), static_cast<uint64_t>(actors));
  EXPECT_EQ(rt_->activations(), 0u);
}

TEST_F(NodeRuntime, GroupCommitPutsManyTurnsInOneSync) {
  start();
  constexpr int actors = 64;
  constexpr int rounds = 20;
  std::atomic<int> answered{0};
  std::promise<void> all_done;
  for (int round = 0; round < rounds; ++round)
    for (int i = 0; i < actors; ++i)
      rt_->call(actor_id{"counter", "g" + std::to_string(i)}, msg(inc(1)),
                std::chrono::steady_clock::now() + 30s, trace_id::make(), "test",
                [&](call_result r) {
                  EXPECT_TRUE(r);
                  if (++answered == actors * rounds) all_done.set_value();
                });
  all_done.get_future().wait();
  auto writes = rt_->metrics().commit_writes.value();
  auto batches = rt_->metrics().commit_batches.value();
  EXPECT_EQ(writes, static_cast<uint64_t>(actors * rounds));
  EXPECT_LT(batches, writes / 4) << "batches=" << batches << " writes=" << writes;
  for (int i = 0; i < actors; ++i)
    EXPECT_EQ(counter_value(actor_id{"counter", "g" + std::to_string(i)}), rounds);
}

TEST_F(NodeRuntime, ReminderFiresAfterARestartExactlyOnce) {
  start();
  actor_id id{"remind", "x"};
  arm_reminder(id, 400);
  stop();  // before it is due
  clock_->ahead += 500;
  start();
  ASSERT_TRUE(eventually([&] { return reminder_state(id).fired() == 1; }, 5s))
      << "phase: waiting for the reminder armed before the restart to fire";
  // A one-shot leaves the schedule as it fires: nothing can fire it again.
  ASSERT_TRUE(eventually([&] { return rt_->metrics().reminders.value() == 0; }, 5s))
      << "phase: the one-shot leaving the schedule";
  EXPECT_EQ(reminder_state(id).fired(), 1);
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), 1u);
}

// After a long stop every reminder is due at once; the node sends at most 1,024 firings at
// a time (each activates its actor), the others as those are answered, and each fires once.
TEST_F(NodeRuntime, OverdueRemindersFireAtMost1024AtATimeAndEachOnce) {
  start();
  constexpr int actors = 1100;
  // All in the partitions the start-up load reads first: the gated turns block every
  // scheduler thread, the reminder service's too, so it would not read further.
  std::vector<actor_id> ids;
  for (int i = 0; ids.size() < actors; ++i)
    if (actor_id id{"gated", std::to_string(i)}; id.partition() < 64) ids.push_back(id);
  std::vector<std::thread> arming;
  for (int t = 0; t < 4; ++t)
    arming.emplace_back([&, t] {
      for (int i = t; i < actors; i += 4) {
        Remind remind;
        remind.set_in_ms(60'000);
        EXPECT_TRUE(call(ids[i], msg(remind)));
      }
    });
  for (auto& t : arming) t.join();
  stop();
  clock_->ahead = 61'000;  // every one overdue at the next start
  reminder_gate.close();
  start();
  // Counted where the router spawns them, before they run: the first ones block every
  // scheduler thread.
  ASSERT_TRUE(eventually([&] { return rt_->activations() == 1024; }, 5s))
      << "phase: waiting for the first 1,024 firings; activations " << rt_->activations();
  // One fire_due sends every due firing the bound allows at once: had it allowed more, the
  // count would have gone past 1,024 before it could be seen at 1,024.
  EXPECT_EQ(rt_->activations(), 1024u) << "more than 1,024 firings in flight";
  reminder_gate.open();
  for (const auto& id : ids)
    ASSERT_TRUE(eventually([&] { return reminder_state(id).fired() == 1; }, 10s))
        << "phase: waiting for " << to_string(id) << " to fire once";
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), uint64_t{actors});
}

// A chunk of the start-up load the store cannot read is read again after a backoff: every
// overdue reminder still fires once, none is skipped.
TEST_F(NodeRuntime, RemindersOfAChunkTheStoreFailedToReadFireAfterTheRetry) {
  start();
  constexpr int actors = 40;
  for (int i = 0; i < actors; ++i)
    arm_reminder(actor_id{"remind", "scan" + std::to_string(i)}, 60'000);
  stop();
  clock_->ahead = 61'000;
  fail_scans_at_start_ = 2;  // the first chunk's first partition, twice: 1 s, then 2 s
  start();
  // Counted, not read from the actors: their loads would take the injected failures.
  ASSERT_TRUE(
      eventually([&] { return rt_->metrics().reminders_fired.value() >= uint64_t{actors}; }, 10s))
      << "phase: waiting for every overdue reminder to fire";
  EXPECT_EQ(faulty_->fail_next_scans.load(), 0);
  for (int i = 0; i < actors; ++i)
    EXPECT_EQ(reminder_state(actor_id{"remind", "scan" + std::to_string(i)}).fired(), 1) << i;
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), uint64_t{actors});
  EXPECT_EQ(rt_->metrics().reminder_load_failures.value(), 0u);
}

// Stopping with firings in flight neither waits for them nor retries them: they stay due in
// the store and fire, once each, after the next start.
TEST_F(NodeRuntime, StopWithOverdueRemindersInFlightIsQuickAndTheyFireAfterTheNextStart) {
  start();
  constexpr int actors = 600;
  for (int i = 0; i < actors; ++i) {
    Remind remind;
    remind.set_in_ms(60'000);
    ASSERT_TRUE(call(actor_id{"gated", std::to_string(i)}, msg(remind)));
  }
  stop();
  clock_->ahead = 61'000;
  start();
  ASSERT_TRUE(eventually([&] { return rt_->metrics().reminders_fired.value() > 0; }, 5s))
      << "phase: waiting for the first overdue firing";
  auto stopping = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);
  start();
  for (int i = 0; i < actors; ++i) {
    actor_id id{"gated", std::to_string(i)};
    ASSERT_TRUE(eventually([&] { return reminder_state(id).fired() == 1; }, 10s))
        << "phase: waiting for " << to_string(id) << " to fire once";
  }
}

// A firing whose turn cannot commit is answered with an error: the reminder is retried
// after a backoff (500 ms first), keeps its due time, and fires once it can commit; it is
// not fired again meanwhile, and not again after.
TEST_F(NodeRuntime, ReminderWhoseFiringFailsIsRetriedAfterABackoffAndFiresOnce) {
  start();
  actor_id id{"remind", "retry"};
  arm_reminder(id, 200);
  faulty_->fail_next_writes = 1;  // the firing's commit
  ASSERT_TRUE(eventually([&] { return faulty_->fail_next_writes.load() == 0; }, 5s))
      << "phase: waiting for the first firing's commit to fail";
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), 1u) << "fired again before the backoff";
  ASSERT_TRUE(eventually([&] { return reminder_state(id).fired() == 1; }, 5s))
      << "phase: waiting for the retry after the backoff";
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), 2u);  // the failed firing and the retry
  ASSERT_TRUE(eventually([&] { return rt_->metrics().reminders.value() == 0; }, 5s))
      << "phase: the one-shot leaving the schedule";
  EXPECT_EQ(reminder_state(id).fired(), 1);
  EXPECT_EQ(rt_->metrics().reminders_fired.value(), 2u);
}

// Commits are pipelined, so these turns settle in different batches; their reminder
// changes must still reach the reminder service in turn order, or the last registration
// could be overtaken by the removal before it and never fire. Many actors on four threads
// make many small batches whose releases could race.
TEST_F(NodeRuntime, ReminderRemovedAndRegisteredAgainByLaterTurnsStillFires) {
  start();
  constexpr int actors = 64, rounds = 30;
  Remind remind;
  remind.set_name("x");
  remind.set_in_ms(700);
  Forget forget;
  forget.set_name("x");
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r)
        for (int a = t; a < actors; a += 4) {
          actor_id id{"remind", "again" + std::to_string(a)};
          rt_->tell(id, msg(remind), {});
          rt_->tell(id, msg(forget), {});
          if (r == rounds - 1) rt_->tell(id, msg(remind), {});
        }
    });
  for (auto& s : senders) s.join();
  auto all_fired_once = [&] {
    for (int a = 0; a < actors; ++a)
      if (reminder_state(actor_id{"remind", "again" + std::to_string(a)}).fired() != 1)
        return false;
    return true;
  };
  ASSERT_TRUE(eventually(all_fired_once, 10s))
      << "phase: waiting for every actor's last registration of x to fire";
  ASSERT_TRUE(eventually([&] { return rt_->metrics().reminders.value() == 0; }, 5s))
      << "phase: the one-shots leaving the schedule";
  for (int a = 0; a < actors; ++a)
    EXPECT_EQ(reminder_state(actor_id{"remind", "again" + std::to_string(a)}).fired(), 1) << a;
}

TEST_F(NodeRuntime, PeriodicReminderKeepsFiring) {
  start();
  actor_id id{"remind", "p"};
  arm_reminder(id, 50, 100);
  ASSERT_TRUE(eventually([&] { return reminder_state(id).fired() >= 3; }, 5s))
      << "phase: waiting for three firings of a 100 ms reminder";
}

TEST_F(NodeRuntime, TimerFiresOnceInTheSameActivation) {
  start();
  actor_id id{"remind", "t"};
  ArmTimer arm;
  arm.set_in_ms(50);
  ASSERT_TRUE(call(id, msg(arm)));
  ASSERT_TRUE(eventually([&] { return reminder_state(id).timers() == 1; }, 3s))
      << "phase: waiting for the 50 ms timer";
  // A later timer as a barrier: the first, had it been armed again, would fire before it.
  arm.set_in_ms(150);
  ASSERT_TRUE(call(id, msg(arm)));
  ASSERT_TRUE(eventually([&] { return reminder_state(id).timers() >= 2; }, 3s))
      << "phase: waiting for the 150 ms timer";
  EXPECT_EQ(reminder_state(id).timers(), 2);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 1u);
}

TEST_F(NodeRuntime, TellIsDeliveredAfterTheSendersCommit) {
  start();
  Forward fwd;
  fwd.set_counter_key("told");
  fwd.set_by(4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(actor_id{"relay", "f"}, msg(fwd)));
  ASSERT_TRUE(eventually(
      [&] {
        return counter_value(actor_id{"counter", "told"}) == 12;
      },
      3s))
      << "phase: waiting for three one-way Increments of 4";
  // A failed turn sends nothing: the tell is discarded with the working state.
  faulty_->fail_writes = true;
  EXPECT_FALSE(call(actor_id{"relay", "f"}, msg(fwd)));
  faulty_->fail_writes = false;
  // A tell of a later turn as a barrier: the failed turn's, had it left, would come first.
  ASSERT_TRUE(call(actor_id{"relay", "f"}, msg(fwd)));
  ASSERT_TRUE(eventually(
      [&] {
        return counter_value(actor_id{"counter", "told"}) >= 16;
      },
      3s))
      << "phase: waiting for the later turn's Increment";
  EXPECT_EQ(counter_value(actor_id{"counter", "told"}), 16);
}

TEST_F(NodeRuntime, StatelessWorkersServeInParallelUpToTheirLimit) {
  start();
  // echo has 4 workers per node: 8 calls land on at most 4 activations.
  std::vector<std::future<call_result>> replies;
  for (int i = 0; i < 8; ++i)
    replies.push_back(std::async(std::launch::async, [this, i] {
      Echo e;
      e.set_number(i);
      return call(actor_id{"echo", "any" + std::to_string(i)}, msg(e));
    }));
  std::set<int> numbers;
  for (auto& f : replies) {
    auto r = f.get();
    ASSERT_TRUE(r);
    numbers.insert(static_cast<const Echo&>(**r).number());
  }
  EXPECT_EQ(numbers.size(), 8u);
  EXPECT_EQ(rt_->metrics().activations_started.value(), 4u);
  EXPECT_EQ(rt_->metrics().commit_writes.value(), 0u);  // stateless: nothing persisted
}

TEST_F(NodeRuntime, StopAnswersEveryCallInFlightAndReturns) {
  start();
  std::vector<std::future<call_result>> replies;
  for (int i = 0; i < 4; ++i)
    replies.push_back(std::async(std::launch::async, [this, i] {
      Sleep s;
      s.set_ms(200);
      return call(actor_id{"slow", "stop" + std::to_string(i)}, msg(s), 10s);
    }));
  for (int i = 0; i < 20; ++i)
    replies.push_back(std::async(std::launch::async, [this, i] {
      return call(actor_id{"counter", "stop" + std::to_string(i)}, msg(inc(1)), 10s);
    }));
  ASSERT_TRUE(eventually([&] { return rt_->metrics().activations_started.value() == 24; }, 5s))
      << "phase: every call reaching its actor";
  auto started = std::chrono::steady_clock::now();
  rt_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  for (auto& f : replies) {
    ASSERT_EQ(f.wait_for(1s), std::future_status::ready) << "a call was left unanswered";
    auto r = f.get();
    if (!r) {
      EXPECT_EQ(code_of(r.error()), errc::unavailable) << message_of(r.error());
    }
  }
  EXPECT_EQ(rt_->metrics().activations.value(), 0);
}

// Synced commits are settled (replies, tells, reminder changes) on a releaser actor, which
// uses the services the runtime owns: stop() must not return while one is still settling.
TEST_F(NodeRuntime, EveryCallIsAnsweredBeforeStopReturns) {
  for (int round = 0; round < 10; ++round) {
    start();
    constexpr int calls = 300;
    auto answered = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < calls; ++i) {
      Forward f;
      f.set_counter_key("c" + std::to_string(i));
      f.set_by(1);
      rt_->call(actor_id{"relay", "r" + std::to_string(i % 50)}, msg(f),
                std::chrono::steady_clock::now() + 10s, trace_id::make(), "test",
                [answered](call_result) { answered->fetch_add(1); });
    }
    // Each round stops at another point: after 0, 30, ..., 270 answers.
    ASSERT_TRUE(eventually([&] { return answered->load() >= round * 30; }, 10s));
    rt_->stop();
    ASSERT_EQ(answered->load(), calls) << "round " << round << ": stop() returned first";
    stop();
  }
}

TEST_F(NodeRuntime, StoppedRuntimeRefusesCallsWithUnavailable) {
  start();
  rt_->stop();
  auto r = call(actor_id{"counter", "z"}, msg(Get{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unavailable);
}

using lines = std::vector<std::string>;

TEST_F(NodeRuntime, EntriesCommitWithTheirTurnAndSurviveARestart) {
  start();
  actor_id id{"ledger", "l1"};
  for (auto [name, value] : {std::pair{"a", 1}, {"b", 2}, {"c", 3}, {"a", 5}}) {
    auto r = set_line(id, name, value);
    ASSERT_TRUE(r) << message_of(r.error());
    EXPECT_EQ(static_cast<const CounterValue&>(**r).value(), value);  // its own change
  }
  auto erased = erase_line(id, "b");
  ASSERT_TRUE(erased) << message_of(erased.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**erased).value(), -1);  // gone for itself too
  EXPECT_EQ(ledger(id), std::pair(lines{"a=5", "c=3"}, int64_t{4}));
  stop();
  start();
  EXPECT_EQ(ledger(id), std::pair(lines{"a=5", "c=3"}, int64_t{4}));
  EXPECT_EQ(ledger(actor_id{"ledger", "l2"}), std::pair(lines{}, int64_t{0}));
}

TEST_F(NodeRuntime, FailedTurnDropsItsEntryChanges) {
  start();
  actor_id id{"ledger", "l3"};
  ASSERT_TRUE(set_line(id, "a", 1));
  auto r = set_line(id, "a", -7);  // written, then refused
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::conflict);
  EXPECT_EQ(ledger(id), std::pair(lines{"a=1"}, int64_t{1}));
  stop();
  start();
  EXPECT_EQ(ledger(id), std::pair(lines{"a=1"}, int64_t{1}));
}

TEST_F(NodeRuntime, FailedCommitReloadsEntriesAsTheyAreOnDisk) {
  start();
  actor_id id{"ledger", "l4"};
  ASSERT_TRUE(set_line(id, "a", 1));
  faulty_->fail_writes = true;
  auto r = set_line(id, "b", 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unavailable);
  faulty_->fail_writes = false;
  EXPECT_EQ(ledger(id), std::pair(lines{"a=1"}, int64_t{1}));
}

// A turn that changed only entries still advances the version: when its commit fails, the
// turn pipelined behind it (also entries only) fails too, rather than landing in the next
// batch on top of what was lost while its caller hears success.
TEST_F(NodeRuntime, FailedEntryOnlyCommitFailsTheTurnPipelinedBehindIt) {
  start();
  actor_id id{"ledger", "l5"};
  ASSERT_TRUE(set_line(id, "a", 1));
  faulty_->writes_started = 0;
  faulty_->hold_writes = true;
  auto first = std::async(std::launch::async, [&] { return set_line(id, "b", 0); });
  ASSERT_TRUE(eventually([&] { return faulty_->writes_started.load() == 1; }, 5s))
      << "phase: waiting for the first entry-only commit to reach the disk";
  auto turns_before = rt_->metrics().turns();
  auto second = std::async(std::launch::async, [&] { return set_line(id, "c", 0); });
  ASSERT_TRUE(eventually([&] { return rt_->metrics().turns() > turns_before; }, 5s))
      << "phase: waiting for the second turn to run behind the unsynced one";
  faulty_->fail_next_writes = 1;  // the held write fails, the next one would succeed
  faulty_->hold_writes = false;
  auto r1 = first.get();
  auto r2 = second.get();
  EXPECT_FALSE(r1);
  EXPECT_FALSE(r2) << "the turn behind a failed commit was acknowledged";
  EXPECT_EQ(ledger(id), std::pair(lines{"a=1"}, int64_t{1}));
}

// A turn that writes nothing but tells, behind an unsettled commit of its actor, sends its
// tell once that commit is durable (its reply waits there too).
TEST_F(NodeRuntime, TellOfATurnThatWroteNothingBehindAnUnsettledCommitIsSent) {
  start();
  actor_id id{"ledger", "l6"};
  faulty_->writes_started = 0;
  faulty_->hold_writes = true;
  auto write = std::async(std::launch::async, [&] { return set_line(id, "a", 1); });
  ASSERT_TRUE(eventually([&] { return faulty_->writes_started.load() == 1; }, 5s))
      << "phase: waiting for the write to reach the disk";
  Forward fwd;
  fwd.set_counter_key("told-behind");
  fwd.set_by(7);
  auto forward = std::async(std::launch::async, [&] { return call(id, msg(fwd)); });
  ASSERT_TRUE(eventually([&] { return rt_->metrics().calls_pending.value() == 2; }, 5s))
      << "phase: the forward waiting behind the held commit";
  faulty_->hold_writes = false;
  ASSERT_TRUE(write.get());
  ASSERT_TRUE(forward.get());
  ASSERT_TRUE(eventually(
      [&] {
        return counter_value(actor_id{"counter", "told-behind"}) == 7;
      },
      3s))
      << "phase: waiting for the one-way Increment of 7";
}

TEST_F(NodeRuntime, EntriesNeedATypeRegisteredWithThem) {
  start();
  auto r = set_line(actor_id{"no_entries", "x"}, "a", 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::app_error);
  EXPECT_NE(message_of(r.error()).find("with_entries"), std::string::npos) << message_of(r.error());
}

// A handoff replaces a partition's whole range behind the store writer's back no more: the
// range a partition comes back with (moved away and back, at a later version) takes turns
// at the versions it now holds, and a dropped range starts over at none.
TEST_F(NodeRuntime, ReplacedPartitionTakesTurnsAtTheVersionsItNowHolds) {
  start();
  actor_id id{"counter", "moves"};
  auto p = id.partition();
  ASSERT_TRUE(call(id, msg(inc(1))));  // version 1, remembered by the writer
  auto close = [&] {
    std::promise<void> drained;
    rt_->partitions().close(p, [&] { drained.set_value(); });
    return drained.get_future().wait_for(5s) == std::future_status::ready;
  };
  ASSERT_TRUE(close());
  CounterState came_back;
  came_back.set_value(7);
  std::vector<store_write> range{
      {state_key(id), encode_versioned(3, came_back.SerializeAsString())}};
  ASSERT_FALSE(rt_->partitions().replace_range(p, std::move(range)));
  rt_->partitions().open(p);
  auto r = call(id, msg(inc(1)));
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**r).value(), 8);

  ASSERT_TRUE(close());
  ASSERT_FALSE(rt_->partitions().replace_range(p, {}));
  rt_->partitions().open(p);
  r = call(id, msg(inc(1)));
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**r).value(), 1);
}

// A fence the test closes; counts how often it was asked.
class switch_fence final : public node_fence {
 public:
  std::atomic<bool> open{true};
  mutable std::atomic<int> asked{0};
  bool is_open() const noexcept override {
    asked.fetch_add(1);
    return open.load();
  }
  std::string why_closed() const override { return "the test closed it"; }
};

// A turn that started before the fence closed and commits after it is refused with 503
// `unavailable` (nothing was written), not 500 `app_error` (which may have been).
TEST_F(NodeRuntime, CommitRefusedByTheFenceIsUnavailableAndWritesNothing) {
  auto fence = std::make_shared<switch_fence>();
  runtime_options opts;
  opts.fence = fence;
  start(opts);
  actor_id held{"counter", "held"};
  actor_id late{"counter", "late"};
  auto first = increment_held_at_the_disk(held, 1);  // its turn and its group commit asked
  ASSERT_TRUE(first.valid());
  auto asked = fence->asked.load();
  auto second = std::async(std::launch::async, [&] { return call(late, msg(inc(5))); });
  // The second turn has started once it asked the fence; its commit waits behind the disk.
  ASSERT_TRUE(eventually([&] { return fence->asked.load() > asked; }, 5s));
  fence->open = false;
  faulty_->hold_writes = false;
  ASSERT_TRUE(first.get());
  auto refused = second.get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), errc::unavailable) << message_of(refused.error());
  fence->open = true;
  EXPECT_EQ(counter_value(late), 0);
}

// A turn that asked another actor may have had effects through it: when its own commit is
// refused, its caller hears 504 `unknown_outcome`, never "did not happen".
TEST_F(NodeRuntime, CommitRefusedAfterTheTurnAskedIsUnknownOutcome) {
  auto fence = std::make_shared<switch_fence>();
  runtime_options opts;
  opts.fence = fence;
  start(opts);
  auto first = increment_held_at_the_disk(actor_id{"counter", "held"}, 1);
  ASSERT_TRUE(first.valid());
  auto asked = fence->asked.load();
  auto second = std::async(std::launch::async, [&] { return call({"rmw", "r"}, msg(inc(1))); });
  // The rmw turn and the echo turn it asked have both started.
  ASSERT_TRUE(eventually([&] { return fence->asked.load() >= asked + 2; }, 5s));
  fence->open = false;
  faulty_->hold_writes = false;
  ASSERT_TRUE(first.get());
  auto refused = second.get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), errc::unknown_outcome) << message_of(refused.error());
}

}  // namespace
}  // namespace keel
