#include "keel/cluster/replica_check.hpp"

#include <algorithm>
#include <string>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::cluster {

namespace {

// Why `part` is malformed; empty if it is not.
std::string malformation(const wire_partition_writes& part) {
  if (part.partition >= partition_count)
    return "partition " + std::to_string(part.partition) + " does not exist";
  auto p = std::to_string(part.partition);
  if (part.keys.size() != part.values.size() || part.keys.size() != part.erase.size())
    return "writes for partition " + p + " have " + std::to_string(part.keys.size()) + " keys, " +
           std::to_string(part.values.size()) + " values and " + std::to_string(part.erase.size()) +
           " erase flags";
  if (part.seq == 0) return "writes for partition " + p + " carry sequence 0";
  auto range = partition_range(part.partition);
  auto sequence = replica_sequence_key(part.partition);
  bool inside = std::all_of(part.keys.begin(), part.keys.end(), [&](const std::string& key) {
    return key.starts_with(range) && key != sequence;
  });
  if (!inside) return "writes for partition " + p + " touch a key outside its actors' records";
  return {};
}

// Whether `part` is the commit after `last`. The first commit of an epoch comes after
// whatever an earlier epoch left: a replica stays in `isr` across a change of epoch only
// when it held every write of the old one (a move's flip), and is caught up otherwise.
bool is_next(const wire_partition_writes& part, const std::optional<ReplicaSequence>& last) {
  if (last && last->epoch() == part.epoch) return last->seq() + 1 == part.seq;
  return part.seq == 1 && (!last || last->epoch() < part.epoch);
}

}  // namespace

caf::error check_replicated(const PartitionRecord* rec, std::string_view self,
                            std::string_view from, const wire_partition_writes& part,
                            const std::optional<ReplicaSequence>& last) {
  if (auto why = malformation(part); !why.empty()) return make_error(errc::bad_payload, why);
  auto p = std::to_string(part.partition);
  auto epoch = std::to_string(part.epoch);
  if (!rec)
    return make_error(errc::conflict, "partition " + p + " has no owner in this node's table");
  if (rec->epoch() > part.epoch)
    return make_error(errc::conflict, "partition " + p + " is at epoch " +
                                          std::to_string(rec->epoch()) + ", the writes at " +
                                          epoch);
  if (rec->epoch() < part.epoch || rec->owner() != from)
    return make_error(errc::conflict, "the table does not give partition " + p + " to " +
                                          std::string{from} + " at epoch " + epoch);
  if (std::find(rec->replicas().begin(), rec->replicas().end(), self) == rec->replicas().end())
    return make_error(errc::conflict,
                      "node " + std::string{self} + " is not a replica of partition " + p);
  if (!is_next(part, last))
    return make_error(errc::conflict, "commit " + std::to_string(part.seq) + " of partition " + p +
                                          " at epoch " + epoch + " is not the next after " +
                                          (last ? std::to_string(last->seq()) + " at epoch " +
                                                      std::to_string(last->epoch())
                                                : std::string{"none"}));
  return {};
}

std::string replica_sequence_key(uint32_t p) {
  return partition_prefix(p, record_kind::sequence);
}

}  // namespace keel::cluster
