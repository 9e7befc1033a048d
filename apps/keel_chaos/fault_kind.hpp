#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::chaos {

/// The faults keel-chaos injects, one at a time.
enum class fault_kind {
  kill_member,        // kill -9 a member that is not the coordinator, restart it
  kill_coordinator,   // kill -9 the coordinator, restart it
  stop_member,        // SIGSTOP a member for 2 lease TTLs, then SIGCONT
  kill_etcd,          // kill -9 etcd, restart it on the same data dir
  join,               // start a new node
  drain_rejoin,       // keelctl drain a member, then start it again (it joins anew)
  term_member,        // SIGTERM a member (a graceful leave), then restart it
  kill_two,           // kill -9 two members at once, restart both
  kill_during_join,   // start a new node, kill -9 another member while it joins
  kill_during_drain,  // keelctl drain a member, kill -9 another while it drains
};

/// The name used in --faults and in the report ("kill-member").
std::string_view name_of(fault_kind kind);
std::optional<fault_kind> fault_from_name(std::string_view name);
/// The kinds' names joined by commas ("kill-member,join"), as --faults takes them.
std::string names_of(const std::vector<fault_kind>& kinds);
/// Every kind, in declaration order.
const std::vector<fault_kind>& all_faults();
/// Whether the docs promise the operation fails no request (a join, a drain, a graceful
/// leave: docs/architecture.md, partitions move "without a failed request").
bool promises_no_failures(fault_kind kind);
/// The fewest running members the fault needs (kill-two keeps one running).
int members_needed(fault_kind kind);

/// `count` faults drawn from `choices`: the list shuffled by `seed`, repeated (each round
/// shuffled anew) until there are `count`, so a run as long as the list has each kind once.
std::vector<fault_kind> plan_faults(const std::vector<fault_kind>& choices, int count,
                                    uint64_t seed);

}  // namespace keel::chaos
