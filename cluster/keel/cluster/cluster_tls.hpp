#pragma once

#include <string>

#include "keel/runtime/tls_files.hpp"

namespace keel::cluster {

/// Mutual TLS between nodes (operations.md "TLS"): every node-to-node connection is TLS
/// 1.2 through CAF's openssl module, each side shows `node` and accepts only a peer whose
/// certificate `ca` signed. Off when `ca` is empty. Plain value.
struct cluster_tls {
  tls_identity node;
  std::string ca;
  bool enabled() const noexcept { return !ca.empty(); }
};

}  // namespace keel::cluster
