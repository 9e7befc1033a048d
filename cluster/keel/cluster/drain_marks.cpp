#include "keel/cluster/drain_marks.hpp"

#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/shared_etcd_client.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

drain_marks::drain_marks(const cluster_keys& keys, std::string cluster_name, cluster_view& view,
                         shared_etcd_client& writer, std::shared_ptr<spdlog::logger> log)
    : keys_(keys),
      cluster_name_(std::move(cluster_name)),
      view_(view),
      writer_(writer),
      log_(std::move(log)) {}

caf::error drain_marks::drain(const std::string& node_id, const std::string& reason,
                              drain_scope scope) {
  auto member = view_.member(node_id);
  if (!member)
    return make_error(errc::not_found,
                      "node '" + node_id + "' is not a member of cluster '" + cluster_name_ + "'");
  etcd::TxnRequest txn;
  // A leave on SIGTERM must not turn an operator's drain, which outlives this process,
  // into one that ends with its lease.
  if (scope == drain_scope::this_run) etcd_client::require_absent(txn, keys_.drain_mark(node_id));
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(keys_.drain_mark(node_id));
  put->set_value(reason);
  if (scope == drain_scope::this_run) put->set_lease(std::stoll(member->lease()));
  auto etcd = writer_.borrow();
  auto res = etcd->txn(txn);
  if (!res) return std::move(res.error());
  view_.set_draining(node_id, reason);
  log_->info("membership: {} is leaving: {}", node_id, reason);
  return {};
}

caf::error drain_marks::cancel(const std::string& node_id) {
  auto etcd = writer_.borrow();
  auto mark = etcd->get(keys_.drain_mark(node_id));
  if (!mark) return std::move(mark.error());
  if (!*mark) return make_error(errc::not_found, "node '" + node_id + "' is not being drained");
  const auto& found = *mark;
  // Under a lease: the node leaves because it was told to stop (SIGTERM), not drained.
  if (found->lease() != 0)
    return make_error(errc::conflict,
                      "node '" + node_id + "' is stopping, not drained: it leaves anyway");
  etcd::TxnRequest txn;
  auto* unchanged = txn.add_compare();
  unchanged->set_key(found->key());
  unchanged->set_target(etcd::Compare::MOD);
  unchanged->set_result(etcd::Compare::EQUAL);
  unchanged->set_mod_revision(found->mod_revision());
  txn.add_success()->mutable_request_delete_range()->set_key(found->key());
  auto res = etcd->txn(txn);
  if (!res) return std::move(res.error());
  if (!res->succeeded())
    return make_error(errc::conflict, "the drain of '" + node_id + "' changed meanwhile");
  view_.clear_draining(node_id);
  log_->info("membership: the drain of {} was withdrawn", node_id);
  return {};
}

}  // namespace keel::cluster
