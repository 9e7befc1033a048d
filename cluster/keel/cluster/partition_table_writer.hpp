#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <caf/error.hpp>

#include "keel/cluster/cluster_keys.hpp"
#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd.pb.h"

namespace keel::cluster {

class coordinator_election;
class shared_etcd_client;

/// The coordinator's writes to the partition table after placement (a handoff's mark, flip
/// or abort): each record is written only if its key is still at the revision the caller
/// read and this node still holds the office, so a record changed meanwhile is never
/// overwritten. What it wrote is in the cluster view at once, not only when the watch
/// repeats it: the next step of a move builds on it.
/// Thread safety: thread-safe; write() blocks on etcd through the shared client.
class partition_table_writer {
 public:
  /// Requires: everything referenced outlives the writer.
  partition_table_writer(const cluster_keys& keys, std::string node_id, cluster_view& view,
                         const coordinator_election& election, shared_etcd_client& writer);

  /// Up to 120 partitions per etcd transaction. `conflict` if this node is not the
  /// coordinator, or if any transaction's conditions failed (its records are not written;
  /// those of earlier transactions are).
  caf::error write(const std::map<uint32_t, versioned_record>& updates);
  /// An owner's own change to its partitions' records (removing a replica that stopped
  /// acknowledging from `isr`): written under the same revision checks, and only while this
  /// node is still a member (its lease key present), instead of the office's check.
  /// `conflict` if a record does not name this node as its owner, or as write().
  caf::error write_as_owner(const std::map<uint32_t, versioned_record>& updates);

 private:
  caf::error write_checked(const std::map<uint32_t, versioned_record>& updates,
                           const std::function<void(etcd::TxnRequest&)>& require_office);

  // Fixed at construction.
  const cluster_keys& keys_;
  const std::string node_id_;
  cluster_view& view_;
  const coordinator_election& election_;
  shared_etcd_client& writer_;
};

}  // namespace keel::cluster
