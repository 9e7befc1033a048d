#pragma once

#include <string>

namespace keel {

/// Whether this node may start turns and commit right now. A cluster node closes its fence
/// while its membership may have lapsed (DESIGN.md "Membership"): another node may then
/// own its partitions, so it must not act on them. A single node has no fence.
/// Thread safety: implementations are thread-safe; is_open() runs at every turn start and
/// every group commit, so it must be cheap and must not block.
class node_fence {
 public:
  virtual ~node_fence() = default;
  virtual bool is_open() const noexcept = 0;
  /// Why the fence is closed, for error messages.
  virtual std::string why_closed() const = 0;
};

}  // namespace keel
