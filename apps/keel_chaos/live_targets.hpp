#pragma once

#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace keel::chaos {

/// One node clients may call: its id and HTTP port on 127.0.0.1.
struct target {
  std::string node_id;
  int port = 0;
};

/// The nodes the clients send to now, as a load balancer would hold them: the fault loop
/// takes a node out before it kills, stops, drains or terminates it, and puts the serving
/// nodes back once the cluster has recovered. In-flight calls to a node taken out still run.
/// Thread safety: thread-safe.
class live_targets {
 public:
  void set(std::vector<target> targets);
  void remove(const std::string& node_id);
  /// A uniformly random target; nullopt while there is none.
  std::optional<target> pick(std::mt19937_64& rng) const;
  std::vector<target> all() const;

 private:
  mutable std::mutex mutex_;
  std::vector<target> targets_;  // guarded by mutex_
};

}  // namespace keel::chaos
