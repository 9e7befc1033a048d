#include "keel/cluster/partition_table_writer.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "keel/cluster/coordinator_election.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/shared_etcd_client.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

partition_table_writer::partition_table_writer(const cluster_keys& keys, std::string node_id,
                                               cluster_view& view,
                                               const coordinator_election& election,
                                               shared_etcd_client& writer)
    : keys_(keys),
      node_id_(std::move(node_id)),
      view_(view),
      election_(election),
      writer_(writer) {}

caf::error partition_table_writer::write(const std::map<uint32_t, versioned_record>& updates) {
  if (!election_.is_coordinator())
    return make_error(errc::conflict, "node " + node_id_ + " is not the coordinator");
  return write_checked(
      updates, [this](etcd::TxnRequest& txn) { election_.require_coordinator(txn, node_id_); });
}

caf::error partition_table_writer::write_as_owner(
    const std::map<uint32_t, versioned_record>& updates) {
  for (const auto& [p, update] : updates)
    if (update.record.owner() != node_id_)
      return make_error(errc::conflict,
                        "partition " + std::to_string(p) + " is not owned by " + node_id_);
  // A node whose lease is gone may already have been replaced as the owner.
  return write_checked(updates, [this](etcd::TxnRequest& txn) {
    etcd_client::require_present(txn, keys_.member(node_id_));
  });
}

caf::error partition_table_writer::write_checked(
    const std::map<uint32_t, versioned_record>& updates,
    const std::function<void(etcd::TxnRequest&)>& require_office) {
  auto etcd = writer_.borrow();
  // etcd takes at most 128 operations per list: 120 partition checks plus the election's.
  constexpr size_t per_transaction = 120;
  std::vector<std::pair<uint32_t, const versioned_record*>> all;
  for (const auto& [p, update] : updates) all.emplace_back(p, &update);
  for (size_t first = 0; first < all.size(); first += per_transaction) {
    auto last = std::min(all.size(), first + per_transaction);
    etcd::TxnRequest txn;
    require_office(txn);
    for (size_t i = first; i < last; ++i) {
      auto key = keys_.partition(all[i].first);
      auto* same = txn.add_compare();
      same->set_key(key);
      same->set_target(etcd::Compare::MOD);
      same->set_result(etcd::Compare::EQUAL);
      same->set_mod_revision(all[i].second->mod_revision);
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(key);
      put->set_value(to_etcd_json(all[i].second->record));
    }
    auto res = etcd->txn(txn);
    if (!res) return std::move(res.error());
    if (!res->succeeded())
      return make_error(errc::conflict,
                        "the partition table changed meanwhile (or the office its writer held)");
    std::vector<std::pair<uint32_t, PartitionRecord>> written;
    for (size_t i = first; i < last; ++i) written.emplace_back(all[i].first, all[i].second->record);
    view_.record_partitions(written, res->header().revision());
  }
  return {};
}

}  // namespace keel::cluster
