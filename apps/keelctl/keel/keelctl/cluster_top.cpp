#include "keel/keelctl/cluster_top.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include <fmt/format.h>

namespace keel::keelctl {

namespace {

struct type_row {
  std::string type;
  uint64_t turns = 0;
  double per_second = 0;
  uint64_t failures = 0;
  double p50 = 0;
  double p99 = 0;
  uint64_t activations = 0;
};

struct actor_row {
  std::string actor;
  uint64_t turns = 0;
  uint64_t overcount = 0;
  double per_second = 0;
  std::string nodes;
};

std::string utc_clock(int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string header(const std::vector<member_stats>& members) {
  std::vector<std::string> answered, failed;
  int64_t last_end = 0;
  uint32_t interval = 0;
  for (const auto& m : members) {
    if (!m.stats) {
      failed.push_back(fmt::format("{} ({}): {}", m.node_id, m.address, m.error));
      continue;
    }
    answered.push_back(m.node_id);
    last_end = std::max(last_end, m.stats->interval_end_ms());
    interval = std::max(interval, m.stats->interval_ms());
  }
  std::string names;
  for (const auto& n : answered) names += (names.empty() ? "" : ", ") + n;
  std::string out = fmt::format("keel top: {} of {} node(s) answered ({}); ", answered.size(),
                                members.size(), names.empty() ? "none" : names);
  out += last_end == 0 ? fmt::format("no {} s interval has closed yet\n", interval / 1000.0)
                       : fmt::format("last {} s intervals, the latest ending {} UTC\n",
                                     interval / 1000.0, utc_clock(last_end));
  for (const auto& f : failed) out += "  not counted: " + f + "\n";
  return out;
}

}  // namespace

std::string render_top(const std::vector<member_stats>& members, size_t max_actors) {
  std::map<std::string, type_row> types;
  std::map<std::string, actor_row> actors;
  for (const auto& m : members) {
    if (!m.stats) continue;
    for (const auto& t : m.stats->types()) {
      auto& row = types[t.type()];
      row.type = t.type();
      row.turns += t.turns();
      row.per_second += t.turns_per_second();
      row.failures += t.failures();
      row.p50 = std::max(row.p50, t.p50_ms());
      row.p99 = std::max(row.p99, t.p99_ms());
      row.activations += t.activations();
    }
    for (const auto& a : m.stats->hot_actors()) {
      auto& row = actors[a.actor()];
      row.actor = a.actor();
      row.turns += a.turns();
      row.overcount += a.overcount();
      row.per_second += a.turns_per_second();
      row.nodes += (row.nodes.empty() ? "" : ",") + m.node_id;
    }
  }
  std::vector<type_row> type_rows;
  for (auto& [name, row] : types)
    if (row.turns > 0 || row.activations > 0) type_rows.push_back(row);
  std::stable_sort(type_rows.begin(), type_rows.end(),
                   [](const type_row& a, const type_row& b) { return a.turns > b.turns; });
  std::vector<actor_row> actor_rows;
  for (auto& [name, row] : actors) actor_rows.push_back(row);
  std::stable_sort(actor_rows.begin(), actor_rows.end(),
                   [](const actor_row& a, const actor_row& b) { return a.turns > b.turns; });
  if (actor_rows.size() > max_actors) actor_rows.resize(max_actors);

  std::string out = header(members);
  out += fmt::format("\n{:<24} {:>10} {:>8} {:>8} {:>9} {:>9} {:>11}\n", "ACTOR TYPE", "TURNS/S",
                     "TURNS", "FAILURES", "P50 MS", "P99 MS", "ACTIVATIONS");
  for (const auto& r : type_rows)
    out += fmt::format("{:<24} {:>10.1f} {:>8} {:>8} {:>9.3f} {:>9.3f} {:>11}\n", r.type,
                       r.per_second, r.turns, r.failures, r.p50, r.p99, r.activations);
  if (type_rows.empty()) out += "(no turns and no activations)\n";
  out += fmt::format("\n{:<40} {:>10} {:>8}  {}\n", "HOT ACTOR", "TURNS/S", "TURNS", "NODE");
  for (const auto& r : actor_rows) {
    // The sketch is bounded: an actor that displaced others inherited their count.
    auto over = r.overcount > 0 ? fmt::format(" (counted up to {} too high)", r.overcount) : "";
    out += fmt::format("{:<40} {:>10.1f} {:>8}  {}{}\n", r.actor, r.per_second, r.turns, r.nodes,
                       over);
  }
  if (actor_rows.empty()) out += "(no turns)\n";
  return out;
}

}  // namespace keel::keelctl
