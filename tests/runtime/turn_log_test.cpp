#include "keel/runtime/turn_log.hpp"

#include <gtest/gtest.h>

namespace keel {
namespace {

void log_turn(turn_log& log, const trace_id& trace, const std::string& message) {
  log.add([&](turn_record& r) {
    r.trace = trace;
    r.actor = actor_id{"counter", "c"};
    r.message = message;
    r.caller = "http";
    r.outcome = "ok";
  });
}

std::vector<std::string> messages(const std::vector<turn_row>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.message);
  return out;
}

TEST(TurnLog, KeepsTheNewestTurnsOfATraceOldestFirst) {
  turn_log log{4};
  auto a = trace_id::make(), b = trace_id::make();
  log_turn(log, a, "a1");
  log_turn(log, b, "b1");
  log_turn(log, a, "a2");
  EXPECT_EQ(messages(log.rows(a, "n1")), (std::vector<std::string>{"a1", "a2"}));
  // Three more: the ring of four now holds the last four, a2, a3, b2 and a4.
  log_turn(log, a, "a3");
  log_turn(log, b, "b2");
  log_turn(log, a, "a4");
  EXPECT_EQ(messages(log.rows(a, "n1")), (std::vector<std::string>{"a2", "a3", "a4"}));
  EXPECT_EQ(messages(log.rows(b, "n1")), (std::vector<std::string>{"b2"}));
  auto rows = log.rows(b, "n1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].node, "n1");
  EXPECT_EQ(rows[0].actor, "counter/c");
  EXPECT_EQ(rows[0].caller, "http");
}

TEST(TurnLog, AnOverwrittenSlotKeepsNothingOfItsOldTurn) {
  turn_log log{1};
  auto a = trace_id::make(), b = trace_id::make();
  log_turn(log, a, "a-long-message-name-beyond-small-string-size");
  log_turn(log, b, "b");
  EXPECT_TRUE(log.rows(a, "n1").empty());
  EXPECT_EQ(messages(log.rows(b, "n1")), (std::vector<std::string>{"b"}));
}

TEST(TurnOrder, WithinOneMillisecondAnAskingTurnComesBeforeTheTurnsItAsked) {
  auto row = [](std::string actor, std::string caller, int64_t start_ms) {
    turn_row r;
    r.actor = std::move(actor);
    r.caller = std::move(caller);
    r.start_ms = start_ms;
    return r;
  };
  // Gathered callee first (the callee's node answered first), all in one millisecond.
  std::vector<turn_row> rows{row("slow/s2", "relay/r2", 5), row("counter/c", "slow/s2", 5),
                             row("relay/r2", "http", 5), row("counter/late", "http", 4)};
  order_by_start(rows);
  std::vector<std::string> actors;
  for (const auto& r : rows) actors.push_back(r.actor);
  EXPECT_EQ(actors, (std::vector<std::string>{"counter/late", "relay/r2", "slow/s2", "counter/c"}));
}

TEST(TurnOrder, AnActorAskingItselfEndsItsChainInsteadOfLooping) {
  turn_row a;
  a.actor = "loop/x";
  a.caller = "loop/x";
  a.start_ms = 1;
  std::vector<turn_row> rows{a, a};
  order_by_start(rows);
  EXPECT_EQ(rows.size(), 2u);
}

}  // namespace
}  // namespace keel
