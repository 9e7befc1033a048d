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

}  // namespace
}  // namespace keel
