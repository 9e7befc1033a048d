#pragma once

#include <string>

#include "keel/keelctl/trace_view.pb.h"

namespace keel::keelctl {

/// A trace's turns as a tree, one line per turn: each turn under the turn of its caller
/// that was running when it started (the latest such), the others (called by HTTP, a
/// reminder or a timer, or whose caller's turn the logs no longer hold) at the top; turns
/// with one parent in start order. Each line: actor, message, node, duration, outcome and
/// the state versions when the turn wrote.
/// Pure function; any thread.
std::string render_trace_tree(const TraceView& trace);

}  // namespace keel::keelctl
