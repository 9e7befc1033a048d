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

int64_t end_ms(const TraceTurn& t) {
  return t.start_ms() + (t.duration_us() + 999) / 1000;
}

// The turn of `child`'s caller that was running when `child` started, else the last of
// the caller's turns to start before it (another node's clock may be a little off), else
// none (-1).
int parent_of(const TraceView& trace, int child) {
  const auto& c = trace.turns(child);
  int running = -1, before = -1;
  for (int i = 0; i < trace.turns_size(); ++i) {
    const auto& t = trace.turns(i);
    if (i == child || t.actor() != c.caller()) continue;
    bool started_before = t.start_ms() <= c.start_ms() + slack_ms;
    if (started_before && c.start_ms() <= end_ms(t) + slack_ms &&
        (running < 0 || t.start_ms() >= trace.turns(running).start_ms()))
      running = i;
    if (started_before && (before < 0 || t.start_ms() >= trace.turns(before).start_ms()))
      before = i;
  }
  return running >= 0 ? running : before;
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

struct printer {
  const TraceView& trace;
  std::map<int, std::vector<int>> children;
  std::string out;

  void print(int turn, const std::string& prefix, bool last, bool root) {
    out += root ? "" : prefix + (last ? "`- " : "|- ");
    out += line_of(trace.turns(turn), root) + "\n";
    auto next_prefix = root ? std::string{} : prefix + (last ? "   " : "|  ");
    const auto& kids = children[turn];
    for (size_t i = 0; i < kids.size(); ++i)
      print(kids[i], next_prefix, i + 1 == kids.size(), false);
  }
};

}  // namespace

std::string render_trace_tree(const TraceView& trace) {
  printer p{trace, {}, {}};
  std::vector<int> roots;
  for (int i = 0; i < trace.turns_size(); ++i) {
    int parent = parent_of(trace, i);
    // A turn its own ancestor (clocks too far apart) would loop: it becomes a root.
    for (int a = parent, hops = 0; a >= 0 && hops <= trace.turns_size();
         a = parent_of(trace, a), ++hops)
      if (a == i) parent = -1;
    (parent < 0 ? roots : p.children[parent]).push_back(i);
  }
  auto by_start = [&](int a, int b) {
    return trace.turns(a).start_ms() != trace.turns(b).start_ms()
               ? trace.turns(a).start_ms() < trace.turns(b).start_ms()
               : a < b;
  };
  std::sort(roots.begin(), roots.end(), by_start);
  for (auto& [parent, kids] : p.children) std::sort(kids.begin(), kids.end(), by_start);
  for (int r : roots) p.print(r, "", true, true);
  return p.out;
}

}  // namespace keel::keelctl
