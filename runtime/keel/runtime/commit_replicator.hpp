#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <caf/error.hpp>

#include "keel/runtime/state_store.hpp"

namespace keel {

/// The output gate's seam (DESIGN.md "Replication and failover"): the node's store writer
/// hands every group commit's turn writes to it, and releases the batch's turns (their
/// replies, tells, timers and reminder changes) only once the local sync is done and the
/// replicator reported its replicas' acknowledgement. The runtime knows nothing of
/// replicas, in-sync sets or sequence numbers; cluster/ implements this, and installs it
/// with partition_host::set_replicator(). Without one (a single node) commits are released
/// on the local sync alone.
/// Batches are handed over in commit order and released in that order whatever order the
/// acknowledgements come in, so a reply never leaves before the replies of the commits it
/// may have read.
/// Thread safety: admit() and replicate() run only on the store writer's thread, one call
/// at a time; `done` may run on any thread, so whatever it shares with those calls must be
/// thread-safe. The writer holds the replicator (a shared_ptr) until it is replaced or the
/// node stops.
class commit_replicator {
 public:
  virtual ~commit_replicator() = default;

  /// Nothing when a commit that writes records of `partition` may be accepted now; else the
  /// error (errc::unavailable, e.g. fewer in-sync copies than required) that refuses that
  /// commit before anything of it is written. Called on the store writer's thread. Must not
  /// block: every commit of the node waits behind it.
  [[nodiscard]] virtual caf::error admit(uint32_t partition) = 0;

  /// `writes`: the records the turns of one group commit write (puts and erases of partition
  /// records; never the writes of replace_range/apply_replicated, never meta records), in
  /// batch order, about to be written locally; valid only during the call. The replicator
  /// may append records to `extra` (its per-partition replication sequence records, meta
  /// keys), which the writer writes in the same local batch. It sends the writes to the
  /// replicas; `done` runs exactly once, on any thread: with no error once every replica
  /// that must acknowledge has done so, else with the reason (the turns then answer
  /// errc::unknown_outcome: the batch is on the local disk). Called on the store writer's
  /// thread, once per batch, in batch order, before the local write; must not block on the
  /// replicas, since the next batch is written while this one is acknowledged.
  virtual void replicate(const std::vector<store_write>& writes, std::vector<store_write>& extra,
                         std::function<void(caf::error)> done) = 0;
};

}  // namespace keel
