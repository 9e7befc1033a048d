#include "keel/keelctl/trace_tree.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>

namespace keel::keelctl {

namespace {

// Start times are whole milliseconds: a callee may seem to start up to 1 ms before its
// caller, and a caller's end is rounded up.
constexpr int64_t slack_ms = 1;

// Printed nesting stops here: a chain deeper than this (a client reusing one trace id for
// a long loop) prints its deeper turns flat under the last level.
constexpr size_t max_depth = 64;

int64_t end_ms(const TraceTurn& t) {
  return t.start_ms() + (t.duration_us() + 999) / 1000;
}

// Each actor's turns in start order, for finding a caller's turn by binary search.
using turns_by_actor = std::map<std::string, std::vector<int>, std::less<>>;

// The turn of `child`'s caller that was running when `child` started, else the last of
// the caller's turns to start before it, else the first to start after it (another node's
// clock may be a little off either way, and a turn's start is its end less a duration that
// each node measures with its own clock), else none (-1). The running one, if any, is among
// the last few to start before the child.
int parent_of(const TraceView& trace, const turns_by_actor& index, int child) {
  const auto& c = trace.turns(child);
  auto it = index.find(c.caller());
  if (it == index.end()) return -1;
  const auto& turns = it->second;
  auto upper = std::upper_bound(turns.begin(), turns.end(), c.start_ms() + slack_ms,
                                [&](int64_t at, int i) { return at < trace.turns(i).start_ms(); });
  int before = -1;
  for (auto i = upper; i != turns.begin();) {
    --i;
    if (*i == child) continue;
    if (before < 0) before = *i;
    if (c.start_ms() <= end_ms(trace.turns(*i)) + slack_ms) return *i;
    if (upper - i > 8) break;  // older turns of the caller ended before this one began
  }
  if (before >= 0) return before;
  for (auto i = upper; i != turns.end(); ++i)
    if (*i != child) return *i;
  return -1;
}

std::string duration_text(int64_t us) {
  return us < 1000 ? fmt::format("{} us", us) : fmt::format("{:.1f} ms", us / 1000.0);
}

std::string line_of(const TraceTurn& t, bool root) {
  auto out = fmt::format("{} {}", t.actor(), t.message());
  if (root) out += fmt::format(" (from {})", t.caller());
  out += fmt::format("  {}  {}  {}", t.node().empty() ? "-" : t.node(),
                     duration_text(t.duration_us()), t.outcome());
  if (t.version_after() != t.version_before())
    out += fmt::format("  v{} -> v{}", t.version_before(), t.version_after());
  return out;
}

}  // namespace

std::string render_trace_tree(const TraceView& trace) {
  const int n = trace.turns_size();
  auto by_start = [&](int a, int b) {
    return trace.turns(a).start_ms() != trace.turns(b).start_ms()
               ? trace.turns(a).start_ms() < trace.turns(b).start_ms()
               : a < b;
  };
  turns_by_actor index;
  for (int i = 0; i < n; ++i) index[trace.turns(i).actor()].push_back(i);
  for (auto& [actor, turns] : index) std::sort(turns.begin(), turns.end(), by_start);
  std::vector<int> parent(n);
  for (int i = 0; i < n; ++i) parent[i] = parent_of(trace, index, i);
  // A turn on a cycle of parents (clocks too far apart) becomes a root: walk each chain
  // once, marking it, and cut where it meets itself.
  std::vector<int> mark(n, -1);  // the walk that reached the turn first
  for (int i = 0; i < n; ++i) {
    int at = i;
    while (at >= 0 && mark[at] < 0) {
      mark[at] = i;
      at = parent[at];
    }
    if (at >= 0 && mark[at] == i) parent[at] = -1;  // this walk came back to `at`
  }
  std::vector<std::vector<int>> children(n);
  std::vector<int> roots;
  for (int i = 0; i < n; ++i) (parent[i] < 0 ? roots : children[parent[i]]).push_back(i);
  std::sort(roots.begin(), roots.end(), by_start);
  for (auto& kids : children) std::sort(kids.begin(), kids.end(), by_start);
  // Depth first without recursion: (turn, prefix, last among its siblings, depth).
  std::string out;
  struct frame {
    int turn;
    std::string prefix;
    bool last;
    size_t depth;
  };
  std::vector<frame> stack;
  for (auto r = roots.rbegin(); r != roots.rend(); ++r) stack.push_back({*r, "", true, 0});
  while (!stack.empty()) {
    auto f = std::move(stack.back());
    stack.pop_back();
    bool root = f.depth == 0;
    out += root ? "" : f.prefix + (f.last ? "`- " : "|- ");
    out += line_of(trace.turns(f.turn), root) + "\n";
    auto deeper = std::min(f.depth + 1, max_depth);
    auto next_prefix = root                  ? std::string{}
                       : f.depth < max_depth ? f.prefix + (f.last ? "   " : "|  ")
                                             : f.prefix;
    const auto& kids = children[f.turn];
    for (size_t k = kids.size(); k-- > 0;)
      stack.push_back({kids[k], next_prefix, k + 1 == kids.size(), deeper});
  }
  return out;
}

}  // namespace keel::keelctl
