#pragma once

#include <memory>
#include <string>

#include <caf/error.hpp>

#include "keel/cluster/cluster_keys.hpp"

namespace spdlog {
class logger;
}

namespace keel::cluster {

class cluster_view;
class shared_etcd_client;

/// How long a drain mark lasts.
enum class drain_scope {
  /// Until the node has left: an operator's drain. A node that dies before it left
  /// resumes the drain when it returns (the mark is no lease's).
  until_left,
  /// Until this process's lease ends: a node leaving on SIGTERM, which a restart should
  /// not continue.
  this_run,
};

/// The drain marks, `keel/<cluster>/drain/<node-id>` (DESIGN.md "Drain"): a marked node is
/// leaving, so the coordinator moves its partitions away and places nothing new there.
/// The marks themselves are read from the cluster view; this class sets and withdraws them.
/// Thread safety: thread-safe; every call blocks on etcd through the shared client.
class drain_marks {
 public:
  /// Requires: everything referenced outlives the marks.
  drain_marks(const cluster_keys& keys, std::string cluster_name, cluster_view& view,
              shared_etcd_client& writer, std::shared_ptr<spdlog::logger> log);

  /// Marks `node_id` as leaving for `reason`. `not_found` if it is not a member.
  caf::error drain(const std::string& node_id, const std::string& reason, drain_scope scope);
  /// Withdraws a drain of `node_id` that has not finished: `not_found` if there is none,
  /// `conflict` if it is a stopping node's (it leaves anyway) or changed meanwhile.
  caf::error cancel(const std::string& node_id);

 private:
  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string cluster_name_;
  cluster_view& view_;
  shared_etcd_client& writer_;
  const std::shared_ptr<spdlog::logger> log_;
};

}  // namespace keel::cluster
