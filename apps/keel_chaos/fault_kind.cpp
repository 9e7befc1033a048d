#include "fault_kind.hpp"

#include <algorithm>
#include <array>
#include <random>
#include <utility>

namespace keel::chaos {

namespace {

constexpr std::array<std::pair<fault_kind, std::string_view>, 10> names{{
    {fault_kind::kill_member, "kill-member"},
    {fault_kind::kill_coordinator, "kill-coordinator"},
    {fault_kind::stop_member, "stop-member"},
    {fault_kind::kill_etcd, "kill-etcd"},
    {fault_kind::join, "join"},
    {fault_kind::drain_rejoin, "drain-rejoin"},
    {fault_kind::term_member, "term-member"},
    {fault_kind::kill_two, "kill-two"},
    {fault_kind::kill_during_join, "kill-during-join"},
    {fault_kind::kill_during_drain, "kill-during-drain"},
}};

}  // namespace

std::string_view name_of(fault_kind kind) {
  for (const auto& [k, name] : names)
    if (k == kind) return name;
  return "?";
}

std::optional<fault_kind> fault_from_name(std::string_view name) {
  for (const auto& [k, n] : names)
    if (n == name) return k;
  return std::nullopt;
}

std::string names_of(const std::vector<fault_kind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ",") + std::string{name_of(k)};
  return out;
}

const std::vector<fault_kind>& all_faults() {
  static const std::vector<fault_kind> all = [] {
    std::vector<fault_kind> out;
    for (const auto& entry : names) out.push_back(entry.first);
    return out;
  }();
  return all;
}

bool promises_no_failures(fault_kind kind) {
  return kind == fault_kind::join || kind == fault_kind::drain_rejoin ||
         kind == fault_kind::term_member;
}

int members_needed(fault_kind kind) {
  switch (kind) {
    case fault_kind::kill_member:
    case fault_kind::drain_rejoin:
    case fault_kind::term_member:
    case fault_kind::kill_during_join:
      return 2;
    case fault_kind::kill_two:
    case fault_kind::kill_during_drain:
      return 3;
    default:
      return 1;
  }
}

std::vector<fault_kind> plan_faults(const std::vector<fault_kind>& choices, int count,
                                    uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::vector<fault_kind> out;
  while (!choices.empty() && static_cast<int>(out.size()) < count) {
    auto round = choices;
    std::shuffle(round.begin(), round.end(), rng);
    for (auto k : round)
      if (static_cast<int>(out.size()) < count) out.push_back(k);
  }
  return out;
}

}  // namespace keel::chaos
