#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "keel/runtime/commit_replicator.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel {

/// What a node's runtime offers the cluster about whole partitions: the one seam through
/// which moving, replicating and routing partitions reach the activations and the store.
/// A single node never calls it.
/// Thread safety: thread-safe. deliver(), redeliver(), close(), open(), is_closed() and
/// set_replicator() never block and may run on any thread, CAF workers included;
/// read_range(), replace_range(), apply_replicated(), read_record() and write_meta() block
/// on disk (read_record() briefly, so the store writer's thread may call it), and
/// read_range_live() on the store writer: call them from a thread of your own, never a
/// CAF worker.
class partition_host {
 public:
  using records = std::vector<std::pair<std::string, std::string>>;

  virtual ~partition_host() = default;

  /// A call or tell that arrived from another node for a partition owned here: tracked
  /// here (its deadline swept), then delivered.
  virtual void deliver(envelope_ptr env) = 0;
  /// An envelope that went through this node's router once already (the directory held
  /// it until its partition was placed, or it arrived from another node): routed again,
  /// not tracked again.
  virtual void redeliver(envelope_ptr env) = 0;

  /// Stops starting turns for `partition`: its reminders stop firing here, its messages go
  /// back to the directory, and `drained` runs (on any thread) once its activations have
  /// finished their turns and their commits are durable, so its key range can be read.
  virtual void close(uint32_t partition, std::function<void()> drained) = 0;
  /// Lets `partition` activate here again and schedules its stored reminders: after it was
  /// handed here, or when its handoff was aborted.
  virtual void open(uint32_t partition) = 0;
  virtual bool is_closed(uint32_t partition) const noexcept = 0;

  /// Every record of `partition` (states, reminders, entries), in key order. Requires: the
  /// partition is closed here (drained), so the range does not change while it is read.
  [[nodiscard]] virtual caf::expected<records> read_range(uint32_t partition) = 0;
  /// Every record of `partition` as the store held it at one moment between two of the
  /// store writer's batches, while the partition goes on serving (a replica is caught up
  /// without stopping writes): `at_snapshot` runs on the writer's thread at that moment
  /// (keep it short; it must not call back into this host), so every batch handed to the
  /// commit_replicator after it is missing from what is read, and every batch before it
  /// is in it. Blocks on the writer and on disk (the range is read on the caller's thread).
  [[nodiscard]] virtual caf::expected<records> read_range_live(
      uint32_t partition, std::function<void()> at_snapshot) = 0;
  /// Replaces every record of `partition` with `writes` (which may also hold writes outside
  /// the partition, such as a metadata record) in one synced batch through the store
  /// writer, whose cached versions then agree with the disk: what a handoff ingests, or,
  /// with no records, drops. Requires: the partition is closed here, or never opened, and
  /// calls for one partition come one at a time.
  [[nodiscard]] virtual caf::error replace_range(uint32_t partition,
                                                 std::vector<store_write> writes) = 0;
  /// Writes `writes`, which a replica received for `partitions` (not served here), in a
  /// synced batch through the store writer, without erasing the partitions' other records,
  /// and makes the writer forget its cached versions of those partitions. These writes
  /// never go to a commit_replicator. Does not block: `applied` runs (on the writer's
  /// thread; keep it short) once they are durable here, or with the reason they are not.
  /// Calls from one thread are written in the order they were made.
  virtual void apply_replicated(std::vector<uint32_t> partitions, std::vector<store_write> writes,
                                std::function<void(caf::error)> applied) = 0;
  /// The same, blocking until they are durable: from a thread of one's own.
  [[nodiscard]] caf::error apply_replicated(std::vector<uint32_t> partitions,
                                            std::vector<store_write> writes);
  /// The record at `key` as the store holds it now (nullopt: none): what the layers above
  /// keep in a partition's range (record_kind::sequence).
  [[nodiscard]] virtual caf::expected<std::optional<std::string>> read_record(
      std::string_view key) = 0;
  /// Installs the output gate (null removes it) in the store writer: it takes effect for the
  /// batches the writer flushes after it received it; a batch handed to the previous one
  /// is still released only once that one answered for it (commit_replicator).
  virtual void set_replicator(std::shared_ptr<commit_replicator> replicator) = 0;
  /// Writes records of the layers above (keys made with meta_key(), never actor state) in
  /// one batch.
  [[nodiscard]] virtual caf::error write_meta(const std::vector<store_write>& writes) = 0;
};

}  // namespace keel
