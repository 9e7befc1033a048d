#include "keel/cluster/partition_table.hpp"

#include <cstdio>

#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel::cluster {

std::optional<uint32_t> partition_in(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix) || key.size() == prefix.size()) return std::nullopt;
  uint32_t p = 0;
  for (char c : key.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<uint32_t>(c - '0');
    if (p >= partition_count) return std::nullopt;
  }
  return p;
}

std::string partition_digits(uint32_t p) {
  char digits[8];
  std::snprintf(digits, sizeof digits, "%04u", p);
  return digits;
}

caf::expected<PartitionRecord> parse_partition_record(std::string_view json) {
  PartitionRecord rec;
  if (auto err = from_etcd_json(json, rec)) return err;
  // The reader ignores unknown enum names (it must ignore etcd's newer fields): presence
  // is how a dropped one shows.
  if (!rec.has_state())
    return make_error(errc::app_error,
                      "partition record without a known state: " + std::string{json});
  return rec;
}

bool holds_or_receives(const PartitionRecord& rec, const std::string& node_id) {
  return rec.owner() == node_id || (rec.state() == PartitionRecord::moving && rec.to() == node_id);
}

PartitionView partition_view(uint32_t p, const PartitionRecord& rec) {
  PartitionView row;
  row.set_partition(p);
  row.set_owner(rec.owner());
  row.set_epoch(static_cast<uint32_t>(rec.epoch()));
  row.set_state(PartitionRecord::State_Name(rec.state()));
  row.set_to(rec.to());
  *row.mutable_replicas() = rec.replicas();
  *row.mutable_isr() = rec.isr();
  return row;
}

caf::expected<std::map<uint32_t, PartitionRecord>> read_partition_table(
    etcd_client& etcd, const std::string& cluster_name) {
  auto table_prefix = "keel/" + cluster_name + "/partitions/";
  auto table = etcd.get_prefix(table_prefix);
  if (!table) return std::move(table.error());
  std::map<uint32_t, PartitionRecord> placed;
  for (const auto& kv : table->kvs()) {
    auto p = partition_in(kv.key(), table_prefix);
    if (!p) continue;
    if (auto rec = parse_partition_record(kv.value())) placed[*p] = std::move(*rec);
  }
  return placed;
}

}  // namespace keel::cluster
