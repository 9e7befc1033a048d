#pragma once

#include <chrono>
#include <string>

namespace keel::cluster {

/// How a node takes part in its cluster: where etcd is, under which names, and how long its
/// lease lasts. Immutable once the membership is made.
struct membership_options {
  std::string etcd;  // host:port of etcd's client (JSON gateway) port
  std::string cluster_name = "keel";
  std::string node_id = "n1";
  std::chrono::seconds lease_ttl{2};
  // The fence closes this long before the lease could have expired in etcd, so a node
  // never acts after another node may have seen it gone.
  std::chrono::milliseconds fence_margin{300};
};

}  // namespace keel::cluster
