#include "keel/cluster/coordinator_election.hpp"

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/lease_keeper.hpp"
#include "keel/cluster/shared_etcd_client.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

coordinator_election::coordinator_election(const cluster_keys& keys, std::string node_id,
                                           std::string cluster_name, cluster_view& view,
                                           const lease_keeper& lease, shared_etcd_client& writer,
                                           std::shared_ptr<spdlog::logger> log)
    : keys_(keys),
      node_id_(std::move(node_id)),
      cluster_name_(std::move(cluster_name)),
      view_(view),
      lease_(lease),
      writer_(writer),
      log_(std::move(log)) {}

void coordinator_election::campaign_if_vacant(etcd_client& etcd) {
  if (view_.coordinator().empty() && lease_.is_open() && !resigned_.load()) campaign(etcd);
}

bool coordinator_election::campaign(etcd_client& etcd) {
  etcd::TxnRequest txn;
  etcd_client::require_absent(txn, keys_.coordinator);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(keys_.coordinator);
  put->set_value(node_id_);
  put->set_lease(lease_.lease());
  txn.add_failure()->mutable_request_range()->set_key(keys_.coordinator);
  auto res = etcd.txn(txn);
  if (!res) {
    log_->warn("membership: campaign for coordinator failed: {}", message_of(res.error()));
    return false;
  }
  std::string holder = node_id_;
  if (!res->succeeded()) {
    const auto& range = res->responses(0).response_range();
    holder = range.kvs_size() > 0 ? range.kvs(0).value() : std::string{};
  }
  view_.set_coordinator(holder, res->header().revision());
  if (res->succeeded()) log_->info("membership: elected coordinator of '{}'", cluster_name_);
  return res->succeeded();
}

bool coordinator_election::is_coordinator() const {
  return lease_.is_open() && view_.coordinator() == node_id_;
}

void coordinator_election::resign() {
  resigned_.store(true);
  if (view_.coordinator() != node_id_) return;
  etcd::TxnRequest txn;
  require_coordinator(txn, node_id_);
  txn.add_success()->mutable_request_delete_range()->set_key(keys_.coordinator);
  auto etcd = writer_.borrow();
  auto res = etcd->txn(txn);
  if (!res) {
    log_->warn("membership: could not resign as coordinator: {}", message_of(res.error()));
    return;
  }
  view_.clear_coordinator(node_id_);
  log_->info("membership: resigned as coordinator");
}

std::string coordinator_election::coordinator_in_etcd(etcd_client& etcd) const {
  auto res = etcd.get(keys_.coordinator);
  return res && *res ? (*res)->value() : std::string{};
}

void coordinator_election::require_coordinator(etcd::TxnRequest& txn,
                                               const std::string& node_id) const {
  auto* elected = txn.add_compare();
  elected->set_key(keys_.coordinator);
  elected->set_target(etcd::Compare::VALUE);
  elected->set_result(etcd::Compare::EQUAL);
  elected->set_value(node_id);
}

}  // namespace keel::cluster
