#include "keel/keelctl/trace_tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace keel::keelctl {
namespace {

TraceTurn turn(std::string actor, std::string message, std::string caller, int64_t start_ms,
               int64_t duration_us, std::string node = "n1", uint64_t before = 0,
               uint64_t after = 0) {
  TraceTurn t;
  t.set_actor(std::move(actor));
  t.set_message(std::move(message));
  t.set_caller(std::move(caller));
  t.set_node(std::move(node));
  t.set_start_ms(start_ms);
  t.set_duration_us(duration_us);
  t.set_outcome("ok");
  t.set_version_before(before);
  t.set_version_after(after);
  return t;
}

TEST(TraceTree, CalleesHangUnderTheCallersTurnThatRanWhenTheyStarted) {
  TraceView trace;
  // The turn log lists newest first; the tree orders by start.
  *trace.add_turns() = turn("driver/d1", "Reserve", "ride/r1", 1003, 400, "n2", 4, 5);
  *trace.add_turns() = turn("cell/1:2", "CellQuery", "ride/r1", 1001, 90);
  *trace.add_turns() = turn("ride/r1", "RequestRide", "http", 1000, 5200, "n1", 0, 1);
  *trace.add_turns() = turn("alerts/rider:u", "AddAlert", "ride/r1", 1007, 60);
  // The same actor's later turn, from a reminder: its own root.
  *trace.add_turns() = turn("ride/r1", "$reminder", "reminder", 3000, 800, "n1", 1, 2);
  EXPECT_EQ(render_trace_tree(trace),
            "ride/r1 RequestRide (from http)  n1  5.2 ms  ok  v0 -> v1\n"
            "|- cell/1:2 CellQuery  n1  90 us  ok\n"
            "|- driver/d1 Reserve  n2  400 us  ok  v4 -> v5\n"
            "`- alerts/rider:u AddAlert  n1  60 us  ok\n"
            "ride/r1 $reminder (from reminder)  n1  800 us  ok  v1 -> v2\n");
}

TEST(TraceTree, NestedCallsIndentAndACallerNoLongerLoggedLeavesARoot) {
  TraceView trace;
  *trace.add_turns() = turn("relay/a", "Relay", "http", 10, 3000);
  *trace.add_turns() = turn("relay/b", "Relay", "relay/a", 11, 2000);
  *trace.add_turns() = turn("slow/s", "Sleep", "relay/b", 12, 1000);
  *trace.add_turns() = turn("counter/c", "Increment", "relay/b", 13, 10);
  *trace.add_turns() = turn("counter/x", "Get", "gone/actor", 14, 5);
  EXPECT_EQ(render_trace_tree(trace),
            "relay/a Relay (from http)  n1  3.0 ms  ok\n"
            "`- relay/b Relay  n1  2.0 ms  ok\n"
            "   |- slow/s Sleep  n1  1.0 ms  ok\n"
            "   `- counter/c Increment  n1  10 us  ok\n"
            "counter/x Get (from gone/actor)  n1  5 us  ok\n");
}

// Another node's clock a few ms behind: the callee seems to start after its caller ended;
// it still hangs under the caller's last turn before it.
TEST(TraceTree, ACalleeOnASkewedClockHangsUnderItsCallersLastTurnBeforeIt) {
  TraceView trace;
  *trace.add_turns() = turn("relay/a", "Relay", "http", 100, 1000);
  *trace.add_turns() = turn("counter/c", "Increment", "relay/a", 140, 10, "n2");
  EXPECT_EQ(render_trace_tree(trace),
            "relay/a Relay (from http)  n1  1.0 ms  ok\n"
            "`- counter/c Increment  n2  10 us  ok\n");
}

// The callee's clock a few ms ahead (seen in a loaded test run: 2 turns on 2 nodes of one
// host, the callee's start 2 ms before its caller's): it still hangs under the caller's
// first turn after it.
TEST(TraceTree, ACalleeOnAClockAheadHangsUnderItsCallersFirstTurnAfterIt) {
  TraceView trace;
  *trace.add_turns() = turn("slow/s1", "Sleep", "relay/r1", 98, 20200, "n2");
  *trace.add_turns() = turn("relay/r1", "Relay", "http", 101, 30000);
  *trace.add_turns() = turn("relay/r1", "Relay", "http", 500, 30000);
  EXPECT_EQ(render_trace_tree(trace),
            "relay/r1 Relay (from http)  n1  30.0 ms  ok\n"
            "`- slow/s1 Sleep  n2  20.2 ms  ok\n"
            "relay/r1 Relay (from http)  n1  30.0 ms  ok\n");
}

TEST(TraceTree, TurnsThatWouldBeTheirOwnAncestorsBecomeRoots) {
  TraceView trace;
  *trace.add_turns() = turn("a/1", "M", "b/1", 100, 5000);
  *trace.add_turns() = turn("b/1", "M", "a/1", 100, 5000);
  auto out = render_trace_tree(trace);
  EXPECT_NE(out.find("a/1 M"), std::string::npos) << out;
  EXPECT_NE(out.find("b/1 M"), std::string::npos) << out;
}

// A client that reuses one trace id for a long loop: 20,000 turns calling each other in a
// chain (a node keeps 16,384). Every turn is printed once; nesting stops at 64 levels, so
// the output stays linear in the turns.
TEST(TraceTree, AChainOfTwentyThousandTurnsPrintsEachOnceWithBoundedIndent) {
  TraceView trace;
  constexpr int n = 20'000;
  for (int i = 0; i < n; ++i)
    *trace.add_turns() = turn(i % 2 ? "a/1" : "b/1", "M", i == 0 ? "http" : (i % 2 ? "b/1" : "a/1"),
                              1000 + i, 5'000'000 - int64_t{i} * 100);
  auto out = render_trace_tree(trace);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), n);
  size_t longest = 0;
  for (size_t at = 0, next; at < out.size(); at = next + 1) {
    next = out.find('\n', at);
    longest = std::max(longest, next - at);
  }
  EXPECT_LE(longest, 64u * 3 + 80) << "indent grew past 64 levels";
}

}  // namespace
}  // namespace keel::keelctl
