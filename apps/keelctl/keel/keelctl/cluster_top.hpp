#pragma once

#include <optional>
#include <string>
#include <vector>

#include "keel/runtime/stats.pb.h"

namespace keel::keelctl {

/// One member's answer to `GET /v1/stats`, or why there is none.
struct member_stats {
  std::string node_id;
  std::string address;  // host:port of its HTTP API
  std::optional<runtime::NodeStats> stats;
  std::string error;  // when stats is empty
};

/// One frame of `keelctl top`: the hottest actor types and actors of the members' last
/// intervals, summed over the members (each closes its own intervals, so they cover about,
/// not exactly, the same seconds). A type's p50 and p99 are the highest of the members'
/// (quantiles do not add up); types without turns or activations are left out. Types are
/// ordered by turns, actors by turns, both then by name; at most `max_actors` actors.
/// Pure function; any thread.
std::string render_top(const std::vector<member_stats>& members, size_t max_actors = 10);

}  // namespace keel::keelctl
