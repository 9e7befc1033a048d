#include "keel/cluster/partition_key_claims.hpp"

#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_key.hpp"
#include "keel/runtime/registry.hpp"

namespace keel::cluster {

caf::error claim_partition_keys(const membership_options& opts, const type_registry& types) {
  etcd_client etcd{opts.etcd, opts.etcd_tls};
  for (const auto& [name, type] : types.types()) {
    auto key = "keel/" + opts.cluster_name + "/partition-keys/" + name;
    auto declared = type->partition_key_name.empty() ? std::string{partition_keys::default_name}
                                                     : type->partition_key_name;
    // Written if absent, else read, in one transaction: two nodes starting at once agree.
    etcd::TxnRequest txn;
    etcd_client::require_absent(txn, key);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(declared);
    txn.add_failure()->mutable_request_range()->set_key(key);
    auto res = etcd.txn(txn);
    if (!res) return std::move(res.error());
    if (res->succeeded()) continue;
    const auto& range = res->responses(0).response_range();
    if (range.kvs_size() == 0) return make_error(errc::unavailable, "cannot read " + key);
    const auto& recorded = range.kvs(0).value();
    if (recorded != declared)
      return make_error(errc::conflict,
                        "actor type '" + name + "' declares partition key '" + declared +
                            "' but cluster '" + opts.cluster_name + "' places its actors by '" +
                            recorded + "' (" + key +
                            "): its nodes would look for them in different partitions");
  }
  return {};
}

}  // namespace keel::cluster
