#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace keel {
class node_runtime;
namespace http {
class gateway;
}
}  // namespace keel

namespace keel::cluster {

class cluster_directory;
class membership;

/// What GET /v1/cluster says about a node that runs without etcd.
struct single_node_info {
  std::string node_id;
  std::string cluster_name;
  std::string http_host;
  // Known once the HTTP server has bound (`--http-port=0` picks one).
  std::shared_ptr<const std::atomic<uint16_t>> http_port;
};

/// Registers `GET /v1/cluster`, `GET /v1/cluster/partitions` and `POST
/// /v1/cluster/nodes/{id}/drain` on `gw`, answered from `members` (the etcd view) and
/// `directory` (this node's links to the others), or as a one-member cluster when they are
/// null (no `--etcd`). With a directory, /readyz also fails while this node has not reached
/// most of its cluster for longer than twice the lease TTL (dead or hung members have left
/// the member list by then): it is the one cut off.
/// Requires: called before serving; `runtime`, `members`, `directory` and `gw` outlive the
/// gateway's serving.
void register_cluster_routes(http::gateway& gw, node_runtime& runtime, membership* members,
                             const cluster_directory* directory, single_node_info self);

}  // namespace keel::cluster
