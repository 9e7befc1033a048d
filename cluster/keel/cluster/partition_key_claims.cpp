#include "keel/cluster/partition_key_claims.hpp"

#include <map>

#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_key_records.hpp"
#include "keel/runtime/registry.hpp"

namespace keel::cluster {

namespace {

// A claim that lost a race with another node's is read and checked again.
constexpr int max_rounds = 3;

// Whether any partition of the cluster was placed: a cluster that has data but no record
// of any partition key was made before partition keys, and placed every actor by its id.
caf::expected<bool> has_partitions(etcd_client& etcd, const std::string& cluster) {
  etcd::TxnRequest txn;
  auto* range = txn.add_success()->mutable_request_range();
  range->set_key("keel/" + cluster + "/partitions/");
  range->set_range_end(etcd_client::prefix_end(range->key()));
  range->set_count_only(true);
  auto res = etcd.txn(txn);
  if (!res) return std::move(res.error());
  return res->responses_size() > 0 && res->responses(0).response_range().count() > 0;
}

// One round: reads the records, refuses a type recorded otherwise, and writes the missing
// ones in one transaction that fails if another node wrote one meanwhile (true: done).
caf::expected<bool> claim_once(etcd_client& etcd, const membership_options& opts,
                               const type_registry& types) {
  auto prefix = "keel/" + opts.cluster_name + "/partition-keys/";
  auto listed = etcd.get_prefix(prefix);
  if (!listed) return std::move(listed.error());
  std::map<std::string, std::string, std::less<>> recorded;
  for (const auto& kv : listed->kvs()) recorded[kv.key().substr(prefix.size())] = kv.value();
  bool legacy = false;
  if (recorded.empty()) {
    auto placed = has_partitions(etcd, opts.cluster_name);
    if (!placed) return std::move(placed.error());
    legacy = *placed;
  }
  etcd::TxnRequest txn;
  for (const auto& [name, type] : types.types()) {
    if (type->stateless()) continue;
    auto wanted = recorded_name_of(*type);
    if (!wanted) return std::move(wanted.error());
    auto it = recorded.find(name);
    std::string was = it != recorded.end() ? it->second
                      : legacy             ? std::string{partition_keys::default_name}
                                           : *wanted;
    if (was != *wanted)
      return make_error(errc::conflict,
                        "actor type '" + name + "' declares partition key '" + *wanted +
                            "' but cluster '" + opts.cluster_name + "' places its actors by '" +
                            was + "' (" + prefix + name +
                            "): its nodes would look for them in different partitions");
    if (it != recorded.end()) continue;
    etcd_client::require_absent(txn, prefix + name);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(prefix + name);
    put->set_value(*wanted);
  }
  if (txn.success_size() == 0) return true;
  auto res = etcd.txn(txn);
  if (!res) return std::move(res.error());
  return res->succeeded();
}

}  // namespace

caf::error claim_partition_keys(const membership_options& opts, const type_registry& types) {
  etcd_client etcd{opts.etcd, opts.etcd_tls};
  for (int round = 0; round < max_rounds; ++round) {
    auto done = claim_once(etcd, opts, types);
    if (!done) return std::move(done.error());
    if (*done) return {};
  }
  return make_error(errc::unavailable, "the partition keys of cluster '" + opts.cluster_name +
                                           "' kept changing while this node recorded its own");
}

}  // namespace keel::cluster
