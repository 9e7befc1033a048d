#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/wire.hpp"

namespace spdlog {
class logger;
}

namespace keel {
class partition_host;
}

namespace keel::cluster {

class membership;
struct cluster_metrics;

/// The last commit a replica accepted per partition: read from the partition's sequence
/// record once, then kept here, since accepted writes are checked and handed to the store
/// writer before the earlier ones are durable.
/// Thread safety: thread-safe (one mutex).
class replica_sequences {
 public:
  /// `p`'s last accepted commit (nullopt: none), read from the store the first time.
  caf::expected<std::optional<ReplicaSequence>> last(partition_host& host, uint32_t p);
  /// Whether `p`'s last accepted commit is known without reading the store.
  bool known(uint32_t p);
  /// A copy of `p` is being ingested: its batches are refused (begin_copy .. end_copy).
  void begin_copy(uint32_t p);
  void end_copy(uint32_t p);
  bool copying(uint32_t p);
  void accept(uint32_t p, ReplicaSequence seq);
  /// Forgets what was accepted: read from the store again next time (a stream replaced
  /// the range, or the writes were not applied).
  void forget(const std::vector<uint32_t>& ps);
  void forget_all();

 private:
  std::mutex mutex_;
  std::map<uint32_t, std::optional<ReplicaSequence>> accepted_;  // mutex_
  std::set<uint32_t> copying_;                                   // mutex_
};

/// A replica's half of replication (DESIGN.md "Replication and failover"): applies the
/// writes that owners send for the partitions this node copies. A message is applied whole
/// or not at all, in one synced batch, and only if each of its partitions' writes comes
/// from the owner the table names at that epoch (a paused ex-owner is refused once the
/// table has moved on), that epoch is not older than the table's, this node is one of the
/// partition's replicas, and the writes are the next commit of the epoch's sequence (none
/// missed, none twice). Each partition's (epoch, sequence) is stored with its records, so a
/// stream that catches a replica up carries it. Messages are checked and handed to the
/// store writer one after another without waiting for the previous one's sync, and each
/// is answered once it is durable.
/// Thread safety: thread-safe. Messages from one owner go to one actor (actor_for), in
/// order; it runs on the scheduler and hands a message that cannot be checked at once (its
/// record not yet in this node's view, its sequence not yet read) to a detached actor that
/// waits for them, taking no other message meanwhile.
class replica_applier {
 public:
  /// Requires: `members`, `host` and `metrics` outlive the applier.
  replica_applier(membership& members, partition_host& host, caf::actor_system& sys,
                  cluster_metrics& metrics, std::shared_ptr<spdlog::logger> log);
  ~replica_applier();
  replica_applier(const replica_applier&) = delete;
  replica_applier& operator=(const replica_applier&) = delete;

  /// What the appliers share.
  struct context {
    membership* members;
    partition_host* host;
    cluster_metrics* metrics;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<replica_sequences> sequences;
  };

  /// The actor that answers `from`'s wire_replicate messages.
  const caf::actor& actor_for(const std::string& from) const noexcept;

  /// The last commit applied here of each of `partitions` (an AppliedSequences in the
  /// reply's payload, in that order); an error if one cannot be read. Blocking (the store).
  wire_reply applied(const std::vector<uint32_t>& partitions);

  /// A copy is about to replace `p`'s range here: its batches are refused until forget(p).
  void begin_copy(uint32_t p);
  /// `p`'s range was replaced here (a stream, a drop): its sequence is read again, and its
  /// batches are taken again.
  void forget(uint32_t p);

  /// Stops the actors; a message not yet applied is answered `unavailable`. Idempotent.
  void stop();

 private:
  partition_host* host_;
  std::shared_ptr<replica_sequences> sequences_;
  std::vector<caf::actor> appliers_;
  caf::actor waiter_;  // blocks on the watch and the store for the appliers
};

/// The last commit of partition `p` recorded in this node's store (nullopt: none); an error
/// if it cannot be read or does not parse. Blocking (the store).
caf::expected<std::optional<ReplicaSequence>> read_replica_sequence(partition_host& host,
                                                                    uint32_t p);

/// `p`'s record in this node's table once it is at `epoch` or later, waiting a little
/// (≤ 500 ms) for the watch; the latest one seen if it never gets there. Blocking.
std::optional<PartitionRecord> wait_for_record(membership& members, uint32_t p, uint64_t epoch);

}  // namespace keel::cluster
