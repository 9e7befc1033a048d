#include "keel/cluster/rebalance_progress.hpp"

#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/coordinator_election.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/shared_etcd_client.hpp"

namespace keel::cluster {

rebalance_progress::rebalance_progress(const cluster_keys& keys, std::string node_id,
                                       cluster_view& view, const coordinator_election& election,
                                       shared_etcd_client& writer)
    : keys_(keys),
      node_id_(std::move(node_id)),
      view_(view),
      election_(election),
      writer_(writer) {}

caf::error rebalance_progress::publish(const RebalanceView& view) {
  etcd::TxnRequest txn;
  election_.require_coordinator(txn, node_id_);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(keys_.rebalance);
  put->set_value(to_etcd_json(view));
  auto etcd = writer_.borrow();
  auto res = etcd->txn(txn);
  if (!res) return std::move(res.error());
  view_.set_rebalance(view);
  return {};
}

}  // namespace keel::cluster
