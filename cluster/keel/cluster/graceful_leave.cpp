#include "keel/cluster/graceful_leave.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

graceful_leave::graceful_leave(membership& members, const cluster_directory& directory,
                               const monotonic_clock& clock, std::shared_ptr<spdlog::logger> log)
    : members_(members), directory_(directory), clock_(clock), log_(std::move(log)) {}

bool graceful_leave::drained() {
  return members_.is_draining(members_.options().node_id) && partitions_still_held() == 0;
}

size_t graceful_leave::partitions_still_held() {
  if (auto owned = directory_.owned_partitions()) return owned;
  auto held = members_.partitions_held_in_etcd();
  if (!held) {
    log_->warn("cannot confirm with etcd that this node owns no partition: {}",
               message_of(held.error()));
    return 1;
  }
  return *held;
}

size_t graceful_leave::other_targets() const {
  auto targets = members_.snapshot()->placement_targets();
  return targets.size() - std::count(targets.begin(), targets.end(), members_.options().node_id);
}

void graceful_leave::move_partitions_away(std::chrono::milliseconds timeout) {
  const auto& self = members_.options().node_id;
  members_.resign();
  if (other_targets() == 0) return;
  // Marked before the check that it owns nothing: from then on nothing is placed here.
  if (auto err = members_.drain(self, "stopping (signal)", membership::drain_scope::this_run)) {
    log_->warn("cannot ask to be drained: {}", message_of(err));
    return;
  }
  auto give_up = clock_.now() + timeout;
  auto next_report = clock_.now();
  auto seen = members_.snapshot();
  while (auto owned = partitions_still_held()) {
    // Every other member leaves too (a whole cluster stopping): nowhere to move them.
    if (other_targets() == 0) {
      log_->info("leaving with {} partitions: every other member is leaving too", owned);
      return;
    }
    auto now = clock_.now();
    if (now >= give_up) {
      log_->warn(
          "leaving with {} partitions still here: they are unavailable until this node "
          "returns",
          owned);
      return;
    }
    if (now >= next_report) {
      log_->info("leaving: {} partitions still to move away", owned);
      next_report = now + std::chrono::seconds{1};
    }
    // Moves show up as table changes in the view; the bound re-asks etcd when the view
    // is quiet, as the last flip may reach etcd before the watch shows it here.
    seen = members_.wait_for_change(seen, std::chrono::milliseconds{250});
  }
  log_->info("leaving: every partition moved away");
}

}  // namespace keel::cluster
