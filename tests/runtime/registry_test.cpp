// The type builder on a real node runtime and LevelDB: handlers that take their type's state
// (State& commits what it changes, const State& writes nothing), reminder and timer names
// as string_view, and wiring mistakes that node_runtime::start refuses with their names.
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/task.hpp"
#include "keel/test/faulty_store.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;
using namespace keel::builtin;

const actor_id echo{"echo", "e"};
// Longer than a small-string buffer: a name read after its storage is gone shows.
const std::string long_name = "a reminder name longer than any small-string buffer holds";

Echo echo_of(std::string text) {
  Echo m;
  m.set_text(std::move(text));
  return m;
}

CounterValue value_of(int64_t v) {
  CounterValue out;
  out.set_value(v);
  return out;
}

// The names reminder and timer handlers saw, as they saw them after a co_await.
class seen_names {
 public:
  void add(std::string name) {
    {
      std::lock_guard guard{mutex_};
      names_.push_back(std::move(name));
    }
    changed_.notify_all();
  }
  // Waits (at most 5 s) until `n` names are in; returns them.
  std::vector<std::string> wait_for(size_t n) {
    std::unique_lock lock{mutex_};
    changed_.wait_for(lock, 5s, [&] { return names_.size() >= n; });
    return names_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> names_;
};

// `tally`: a counter written with state handlers.
// Increment (CounterState&) adds `by`; Get (const CounterState&) reads; Refuse (State&)
// writes, then answers an error; Relay (a State& coroutine) adds 1, asks echo, adds 10;
// Forward (a const State& coroutine) asks echo (or the type named by counter_key), then
// reads; Echo (const State&) reads
// and puts entry `text`.
type_builder<CounterState> register_tally(type_registry& types, const std::string& name) {
  auto tally = types.add_type<CounterState>(name);
  tally.with_entries()
      .on<Increment>([](const Increment& m, CounterState& st, context&) {
        st.set_value(st.value() + m.by());
        return value_of(st.value());
      })
      .on<Get>([](const Get&, const CounterState& st, context&) { return value_of(st.value()); })
      .on<Refuse>([](const Refuse&, CounterState& st, context&) -> caf::expected<CounterValue> {
        st.set_value(-1);
        return make_error(errc::conflict, "refused");
      })
      .on<Relay>([](const Relay&, CounterState& st, context& ctx) -> task<CounterValue> {
        st.set_value(st.value() + 1);
        auto answer = co_await ctx.ask<Echo>(echo, echo_of("r"));
        if (!answer) co_return value_of(-1);
        st.set_value(st.value() + 10);
        co_return value_of(st.value());
      })
      .on<Forward>(
          [](const Forward& m, const CounterState& st, context& ctx) -> task<CounterValue> {
            auto target = m.counter_key().empty() ? echo : actor_id{m.counter_key(), "g"};
            auto answer = co_await ctx.ask<Echo>(target, echo_of("f"));
            co_return value_of(answer ? st.value() : -1);
          })
      .on<Echo>([](const Echo& m, const CounterState& st, context& ctx) {
        ctx.put_entry(m.text(), value_of(st.value()));
        return value_of(st.value());
      });
  return tally;
}

// `named`: Remind registers reminder `name` due now; ArmTimer arms timer long_name. Both
// handlers are coroutines taking the name as string_view and log it after an ask.
void register_named(type_registry& types, std::shared_ptr<seen_names> seen) {
  types.add_type<ReminderCount>("named")
      .on<Remind>([](const Remind& m, const ReminderCount& st, context& ctx) {
        ctx.register_reminder(m.name(), 0ms, 0ms);
        return st;
      })
      .on<ArmTimer>([](const ArmTimer& m, const ReminderCount& st, context& ctx) {
        ctx.set_timer(long_name, std::chrono::milliseconds{m.in_ms()});
        return st;
      })
      .on<GetReminders>([](const GetReminders&, const ReminderCount& st, context&) { return st; })
      .on_reminder([seen](std::string_view name, context& ctx) -> task<> {
        co_await ctx.ask<Echo>(echo, echo_of("r"));
        ctx.state<ReminderCount>().add_names("reminder " + std::string{name});
        seen->add("reminder " + std::string{name});
      })
      .on_timer([seen](std::string_view name, context& ctx) -> task<> {
        co_await ctx.ask<Echo>(echo, echo_of("t"));
        ctx.state<ReminderCount>().set_timers(ctx.view<ReminderCount>().timers() + 1);
        seen->add("timer " + std::string{name});
      });
}

// Holds the `gate` actor's one turn (and a scheduler thread) until released, so that an
// ask to it stays unanswered while a test interleaves another turn. At most 10 s.
class gate {
 public:
  void pass() {
    entered_.set_value();
    released_.wait_for(10s);
  }
  bool wait_entered() { return entered_future_.wait_for(5s) == std::future_status::ready; }
  void release() {
    std::call_once(once_, [this] { release_.set_value(); });
  }

 private:
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::once_flag once_;
};

class Registry : public ::testing::Test {
 protected:
  Registry() {
    types_.add_stateless("echo", 2).on<Echo>([](const Echo& m, context&) { return m; });
    register_tally(types_, "tally");
    register_tally(types_, "tally_reentrant").reentrant();
    register_named(types_, seen_);
    types_.add_stateless("gate", 1).on<Echo>([g = gate_](const Echo& m, context&) {
      g->pass();
      return m;
    });
  }
  ~Registry() override {
    gate_->release();
    stop();
  }

  void start() {
    auto store = open_leveldb_store({dir_.sub("db"), true});
    ASSERT_TRUE(store) << message_of(store.error());
    auto faulty = std::make_unique<test::faulty_store>(std::move(*store));
    store_ = faulty.get();
    node_.start(types_, std::move(faulty));
    ASSERT_TRUE(node_.rt) << "phase: starting the runtime";
    // The start records the types' partition keys: not a turn's.
    writes_at_start_ = store_->writes_started.load();
  }

  void stop() {
    store_ = nullptr;
    node_.stop();
  }

  // The value a tally answered, or the code name of its error.
  template <class M>
  std::string call(const actor_id& target, M m) {
    auto r = node_.rt->call_and_wait(target, std::make_shared<M>(std::move(m)), 5s);
    if (!r) return std::string{code_name(code_of(r.error()))};
    return std::to_string(static_cast<const CounterValue&>(**r).value());
  }

  ReminderCount call_named(const actor_id& target, message_ptr m) {
    auto r = node_.rt->call_and_wait(target, std::move(m), 5s);
    EXPECT_TRUE(r) << message_of(r.error());
    return r ? static_cast<const ReminderCount&>(**r) : ReminderCount{};
  }

  // Write batches the store took since start; one per committed turn here.
  int writes() const { return store_->writes_started.load() - writes_at_start_; }

  // The stored version of `id`'s state record. Requires: stopped.
  uint64_t stored_version(const actor_id& id) {
    auto store = open_leveldb_store({dir_.sub("db"), true});
    EXPECT_TRUE(store) << message_of(store.error());
    if (!store) return 0;
    auto value = (*store)->get(state_key(id));
    EXPECT_TRUE(value && *value) << "phase: reading the state record of " << to_string(id);
    if (!value || !*value) return 0;
    uint64_t version = 0;
    std::string_view bytes;
    EXPECT_TRUE(decode_versioned(**value, version, bytes));
    return version;
  }

  test::temp_dir dir_;
  std::shared_ptr<gate> gate_ = std::make_shared<gate>();
  std::shared_ptr<seen_names> seen_ = std::make_shared<seen_names>();
  type_registry types_;
  test::local_runtime node_;
  test::faulty_store* store_ = nullptr;  // node_'s, while it runs
  int writes_at_start_ = 0;
};

TEST_F(Registry, StateHandlerChangeCommitsAndSurvivesARestart) {
  start();
  const actor_id id{"tally", "a"};
  Increment inc;
  inc.set_by(5);
  EXPECT_EQ(call(id, inc), "5");
  EXPECT_EQ(call(id, inc), "10");
  EXPECT_EQ(writes(), 2);
  stop();
  EXPECT_EQ(stored_version(id), 2u);
  start();
  EXPECT_EQ(call(id, Get{}), "10");
}

TEST_F(Registry, ConstStateHandlerWritesNothingAndLeavesTheVersion) {
  start();
  const actor_id id{"tally", "r"};
  Increment inc;
  inc.set_by(3);
  ASSERT_EQ(call(id, inc), "3");
  ASSERT_EQ(writes(), 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(id, Get{}), "3");
  EXPECT_EQ(call(id, Forward{}), "3");  // a const State& coroutine, across an ask
  EXPECT_EQ(writes(), 1) << "a read-only turn wrote";
  stop();
  EXPECT_EQ(stored_version(id), 1u);
}

// Entries and reminders a read-only handler changes through ctx commit as any turn's do;
// the commit then rewrites the state record, unchanged, at the next version.
TEST_F(Registry, ConstStateHandlerThatPutsAnEntryCommitsTheEntryOnly) {
  start();
  const actor_id id{"tally", "e"};
  Increment inc;
  inc.set_by(7);
  ASSERT_EQ(call(id, inc), "7");
  EXPECT_EQ(call(id, echo_of("line")), "7");
  EXPECT_EQ(writes(), 2);
  stop();
  EXPECT_EQ(stored_version(id), 2u);
  auto store = open_leveldb_store({dir_.sub("db"), true});
  ASSERT_TRUE(store) << message_of(store.error());
  auto entry = (*store)->get(entry_key(id, "line"));
  ASSERT_TRUE(entry && *entry) << "phase: reading the entry the read-only turn put";
  CounterValue stored;
  ASSERT_TRUE(stored.ParseFromString(**entry));
  EXPECT_EQ(stored.value(), 7);
}

TEST_F(Registry, StateHandlerAnsweringAnErrorKeepsTheCommittedState) {
  start();
  const actor_id id{"tally", "x"};
  Increment inc;
  inc.set_by(2);
  ASSERT_EQ(call(id, inc), "2");
  EXPECT_EQ(call(id, Refuse{}), "conflict");
  EXPECT_EQ(call(id, Get{}), "2");
  EXPECT_EQ(writes(), 1);
}

TEST_F(Registry, StateCoroutineWritesAcrossAnAskCommitTogetherAndSurviveARestart) {
  start();
  const actor_id id{"tally", "c"};
  EXPECT_EQ(call(id, Relay{}), "11");
  EXPECT_EQ(writes(), 1);
  stop();
  start();
  EXPECT_EQ(call(id, Get{}), "11");
}

TEST_F(Registry, StateHandlersRunInAReentrantTypeToo) {
  start();
  const actor_id id{"tally_reentrant", "c"};
  EXPECT_EQ(call(id, Relay{}), "11");
  EXPECT_EQ(call(id, Forward{}), "11");  // the const State& coroutine reads its snapshot
  EXPECT_EQ(writes(), 1);
}

// Another turn of a reentrant type commits while this coroutine waits: its const State& is
// the state as its turn started, not the message that commit replaced.
TEST_F(Registry, ConstStateCoroutineOfAReentrantTypeReadsTheStateItsTurnStartedWith) {
  start();
  const actor_id id{"tally_reentrant", "s"};
  Increment inc;
  inc.set_by(1);
  ASSERT_EQ(call(id, inc), "1");
  Forward via_gate;
  via_gate.set_counter_key("gate");
  auto held = std::async(std::launch::async, [&] { return call(id, via_gate); });
  ASSERT_TRUE(gate_->wait_entered()) << "phase: the coroutine's ask reaching the gate";
  inc.set_by(5);
  EXPECT_EQ(call(id, inc), "6") << "phase: a turn interleaved with the waiting coroutine";
  gate_->release();
  ASSERT_EQ(held.wait_for(5s), std::future_status::ready) << "phase: the coroutine's answer";
  EXPECT_EQ(held.get(), "1");
  EXPECT_EQ(call(id, Get{}), "6");
  EXPECT_EQ(writes(), 2);
}

TEST_F(Registry, ReminderAndTimerCoroutinesTakingStringViewSeeTheirNameAfterAnAsk) {
  start();
  const actor_id id{"named", "n"};
  auto remind = std::make_shared<Remind>();
  remind->set_name(long_name);
  call_named(id, remind);
  auto seen = seen_->wait_for(1);
  ASSERT_EQ(seen, std::vector<std::string>{"reminder " + long_name})
      << "phase: the reminder firing";
  auto arm = std::make_shared<ArmTimer>();
  arm->set_in_ms(0);
  call_named(id, arm);
  seen = seen_->wait_for(2);
  EXPECT_EQ(seen, (std::vector<std::string>{"reminder " + long_name, "timer " + long_name}))
      << "phase: the timer firing";
  auto st = call_named(id, std::make_shared<GetReminders>());
  EXPECT_EQ(std::vector<std::string>(st.names().begin(), st.names().end()),
            std::vector<std::string>{"reminder " + long_name});
  EXPECT_EQ(st.timers(), 1);
}

// What starting a node over `types` answers.
caf::error start_error(const type_registry& types, const std::string& dir) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = open_leveldb_store({dir, true});
  if (!store) return store.error();
  auto rt = node_runtime::start(sys, types, std::move(*store), make_system_clock(), {});
  return rt ? caf::error{} : rt.error();
}

TEST(RegistryWiring, TypeRegisteredTwiceIsRefusedAtStartAndTheFirstStays) {
  type_registry types;
  register_counter(types);
  types.add_stateless("counter", 1).on<Echo>([](const Echo& m, context&) { return m; });
  test::temp_dir dir;
  auto err = start_error(types, dir.sub("db"));
  ASSERT_TRUE(err) << "a node started with a type registered twice";
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err), "actor type 'counter' registered twice");
  const auto* first = types.find("counter");
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(first->stateless());
  EXPECT_EQ(first->find("Echo"), nullptr);
}

TEST(RegistryWiring, SecondHandlerForAMessageIsRefusedAtStartAndTheFirstStays) {
  type_registry types;
  types.add_type<CounterState>("ride")
      .on<Increment>([](const Increment&, context&) { return value_of(1); })
      .on<Get>([](const Get&, const CounterState& st, context&) { return value_of(st.value()); })
      .on<Increment>([](const Increment&, CounterState&, context&) { return value_of(2); });
  test::temp_dir dir;
  auto err = start_error(types, dir.sub("db"));
  ASSERT_TRUE(err) << "a node started with two handlers for one message";
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err), "actor type 'ride' has two handlers for message 'Increment'");
  EXPECT_EQ(types.find("ride")->handlers.size(), 2u);
}

TEST(RegistryWiring, EveryMistakeIsNamedInTheOrderMade) {
  type_registry types;
  types.add_stateless("w", 1)
      .on<Echo>([](const Echo& m, context&) { return m; })
      .on<Echo>([](const Echo& m, context&) { return m; });
  types.add_type<CounterState>("w");
  auto err = types.check();
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err),
            "actor type 'w' has two handlers for message 'Echo'; actor type 'w' registered twice");
}

TEST(RegistryWiring, SecondReminderOrTimerHandlerAndAnUnhandledInternalMessageAreRefused) {
  type_registry types;
  types.add_type<CounterState>("r")
      .on<Get>([](const Get&, const CounterState& st, context&) { return value_of(st.value()); })
      .internal<Get, Increment>()
      .on_reminder([](std::string_view, context&) {})
      .on_reminder([](std::string_view, context&) {})
      .on_timer([](std::string_view, context&) {})
      .on_timer([](std::string_view, context&) {});
  auto err = types.check();
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), errc::bad_payload);
  EXPECT_EQ(message_of(err),
            "actor type 'r' marks message 'Increment' internal but has no handler for it; "
            "actor type 'r' has two on_reminder handlers; actor type 'r' has two on_timer "
            "handlers");
  const auto* type = types.find("r");
  ASSERT_NE(type, nullptr);
  EXPECT_TRUE(type->find("Get")->internal);
}

TEST(RegistryWiring, CorrectWiringChecksClean) {
  type_registry types;
  register_counter(types);
  register_test_actors(types);
  EXPECT_FALSE(types.check());
}

// Entries are state: a stateless type's builder has no with_entries() to call, so the
// mistake is a compile error, not something start() finds.
template <class Builder>
concept takes_entries = requires(Builder b) {
  b.with_entries();
};
static_assert(!takes_entries<type_builder<>>);
static_assert(takes_entries<type_builder<CounterState>>);

}  // namespace
}  // namespace keel
