#pragma once

#include <string>
#include <vector>

#include "live_targets.hpp"

namespace keel::chaos {

/// What still keeps the cluster from having recovered, in words for a progress line; empty
/// once every node in `nodes` answers /readyz 200 and its GET /v1/cluster lists exactly
/// `nodes` as members, every one "up", names a coordinator, is not fenced, and shows no
/// rebalance running. Thread-safe: it only makes HTTP calls.
std::string recovery_gap(const std::vector<target>& nodes);

/// The coordinator as the first of `nodes` that names one says; empty if none does.
std::string coordinator_seen_by(const std::vector<target>& nodes);

}  // namespace keel::chaos
