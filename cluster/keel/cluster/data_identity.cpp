#include "keel/cluster/data_identity.hpp"

#include <algorithm>
#include <charconv>
#include <random>

#include <fmt/format.h>

#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/tls_files.hpp"

namespace keel::cluster {

namespace {

// The cluster's id, replication factor and transport CA: made by its first node, so a
// fresh etcd (even one started with the same flags, which gets the same etcd cluster id)
// means a new cluster, every node of a cluster keeps the same number of copies, and every
// node speaks to the others the same way.
struct cluster_settings {
  std::string id;
  size_t replication_factor = 1;
  std::string transport_ca;  // PEM of the CA of mutual TLS between nodes; empty: plaintext
};

caf::expected<cluster_settings> cluster_settings_in_etcd(etcd_client& etcd,
                                                         const membership_options& opts) {
  auto id_key = "keel/" + opts.cluster_name + "/id";
  auto factor_key = "keel/" + opts.cluster_name + "/replication-factor";
  auto ca_key = "keel/" + opts.cluster_name + "/transport-ca";
  std::random_device entropy;
  cluster_settings fresh{
      fmt::format("{:08x}{:08x}{:08x}{:08x}", entropy(), entropy(), entropy(), entropy()),
      opts.replication_factor > 0 ? opts.replication_factor : default_replication_factor, ""};
  if (opts.transport_tls.enabled()) {
    auto ca = read_pem_file(opts.transport_tls.ca);
    if (!ca) return std::move(ca.error());
    fresh.transport_ca = std::move(*ca);
  }
  etcd::TxnRequest txn;
  etcd_client::require_absent(txn, id_key);
  for (auto [key, value] : {std::pair{id_key, fresh.id},
                            std::pair{factor_key, std::to_string(fresh.replication_factor)},
                            std::pair{ca_key, fresh.transport_ca}}) {
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    txn.add_failure()->mutable_request_range()->set_key(key);
  }
  auto res = etcd.txn(txn);
  if (!res) return std::move(res.error());
  if (res->succeeded()) return fresh;
  const auto& id = res->responses(0).response_range();
  if (id.kvs_size() == 0) return make_error(errc::unavailable, "cannot read " + id_key);
  // A cluster made before replication was built has one copy.
  cluster_settings theirs{id.kvs(0).value(), 1, ""};
  const auto& factor = res->responses(1).response_range();
  if (factor.kvs_size() > 0) {
    const auto& text = factor.kvs(0).value();
    if (std::from_chars(text.data(), text.data() + text.size(), theirs.replication_factor).ec !=
        std::errc{})
      return make_error(errc::app_error, factor_key + " does not parse: " + text);
  }
  // A cluster made before cluster TLS was built has none.
  const auto& ca = res->responses(2).response_range();
  if (ca.kvs_size() > 0) theirs.transport_ca = ca.kvs(0).value();
  return theirs;
}

// Every node speaks to the others as the cluster's first node did: in plaintext, or with
// mutual TLS under the same CA. A node that could not is refused here, before it joins,
// rather than joining and having partitions placed on it that no peer can reach.
caf::error check_transport(const cluster_settings& theirs, const membership_options& opts) {
  const auto& name = opts.cluster_name;
  bool mine = opts.transport_tls.enabled();
  if (theirs.transport_ca.empty() && !mine) return {};
  if (theirs.transport_ca.empty())
    return make_error(errc::conflict, "cluster '" + name +
                                          "' runs plaintext between nodes (its first node had "
                                          "no --cluster-tls-ca): start this node without "
                                          "--cluster-tls-*, or make a new cluster");
  if (!mine)
    return make_error(errc::conflict, "cluster '" + name +
                                          "' requires mutual TLS between nodes: start this node "
                                          "with --cluster-tls-cert, --cluster-tls-key and "
                                          "--cluster-tls-ca");
  const auto& tls = opts.transport_tls;
  auto cert = read_pem_file(tls.node.cert);
  if (!cert) return std::move(cert.error());
  if (auto err = check_signed_by(*cert, theirs.transport_ca))
    return make_error(errc::conflict,
                      "--cluster-tls-cert " + tls.node.cert + " is not signed by cluster '" + name +
                          "''s CA (recorded in etcd by its first node): " + message_of(err));
  auto cas = read_pem_file(tls.ca);
  if (!cas) return std::move(cas.error());
  if (auto err = check_signed_by(theirs.transport_ca, *cas))
    return make_error(errc::conflict, "--cluster-tls-ca " + tls.ca + " does not hold cluster '" +
                                          name +
                                          "''s CA (recorded in etcd by its first node), so this "
                                          "node would refuse its peers: " +
                                          message_of(err));
  return {};
}

// A dir that was never this cluster's: it must not come up as the owner of partitions
// the table gives this node id, which it would then serve empty (an unmounted volume,
// a wrong --data-dir, a lost disk).
caf::error claim_new_dir(etcd_client& etcd, state_store& store, const membership_options& opts,
                         const DataIdentity& mine) {
  auto placed = read_partition_table(etcd, opts.cluster_name);
  if (!placed) return std::move(placed.error());
  size_t owned = 0;
  size_t in_sync = 0;
  for (const auto& [p, rec] : *placed) {
    owned += rec.owner() == opts.node_id;
    in_sync += std::count(rec.isr().begin(), rec.isr().end(), opts.node_id);
  }
  if (owned > 0)
    return make_error(errc::conflict,
                      "the cluster's table gives node '" + opts.node_id + "' " +
                          std::to_string(owned) +
                          " partitions, but data dir holds none of "
                          "this cluster's data: refusing to serve them empty (start it on its "
                          "own --data-dir; see docs/operations.md if that data is lost)");
  // Listed as holding every acknowledged write of partitions it copied: promoted empty, it
  // would lose them. The coordinator takes a node that is gone out of every `isr` within a
  // pass of seeing its lease end.
  if (in_sync > 0)
    return make_error(errc::conflict,
                      "the cluster's table lists node '" + opts.node_id +
                          "' as an in-sync copy of " + std::to_string(in_sync) +
                          " partitions, but its data dir holds none of this cluster's data: "
                          "start it again once the coordinator has replaced its copies (within "
                          "a second of its old lease's end)");
  return store.write({{std::string{meta_cluster_key}, mine.SerializeAsString()}});
}

// Every partition this DB owned must still be this node's in the table, at the same or a
// later epoch: a table that lost it, or gave it to another node, would let someone else
// serve it without this data.
caf::error check_held_epochs(etcd_client& etcd, state_store& store,
                             const membership_options& opts) {
  auto held = store.scan(meta_key(partition_epoch_prefix));
  if (!held) return std::move(held.error());
  if (held->empty()) return {};
  auto table = read_partition_table(etcd, opts.cluster_name);
  if (!table) return std::move(table.error());
  auto& placed = *table;
  auto epoch_prefix = meta_key(partition_epoch_prefix);
  std::vector<store_write> stale;
  for (const auto& [key, value] : *held) {
    auto held_p = partition_in(key, epoch_prefix);
    uint64_t epoch = 0;
    if (!held_p ||
        std::from_chars(value.data(), value.data() + value.size(), epoch).ec != std::errc{})
      return make_error(errc::app_error,
                        "the data dir's epoch record " + key.substr(1) + " does not parse");
    auto p = *held_p;
    auto it = placed.find(p);
    // Handed off at a later epoch (this node stopped before it dropped its copy), or
    // promoted to a replica while this node was down: only a completed handoff or a
    // promotion of an in-sync copy raises an epoch, so the new owner has every write that
    // was acknowledged. Drop the old copy.
    if (it != placed.end() && it->second.owner() != opts.node_id && it->second.epoch() > epoch) {
      auto records = store.scan(partition_range(p));
      if (!records) return std::move(records.error());
      for (auto& [k, v] : *records) stale.push_back({std::move(k), {}, true});
      stale.push_back({key, {}, true});
      continue;
    }
    std::string says = it == placed.end() ? "has no owner for it"
                                          : "gives it to node '" + it->second.owner() +
                                                "' at epoch " + std::to_string(it->second.epoch());
    if (it == placed.end() || it->second.owner() != opts.node_id || it->second.epoch() < epoch)
      return make_error(errc::conflict,
                        "partition " + std::to_string(p) + ": this data dir holds it at epoch " +
                            std::to_string(epoch) + ", but the cluster's table " + says +
                            "; refusing to serve a table that contradicts the data");
  }
  if (!stale.empty()) return store.write(stale);
  return {};
}

}  // namespace

// Adopts the cluster's replication factor into `opts`, or refuses a node started with
// another one, or with more in-sync copies required than the cluster keeps.
caf::error settle_replication(const cluster_settings& settings, membership_options& opts) {
  auto theirs = settings.replication_factor;
  if (opts.replication_factor > 0 && opts.replication_factor != theirs)
    return make_error(errc::conflict,
                      fmt::format("cluster '{}' keeps {} copies of each partition "
                                  "(--replication-factor={}, fixed when it was created), but "
                                  "this node was started with --replication-factor={}",
                                  opts.cluster_name, theirs, theirs, opts.replication_factor));
  if (opts.min_insync > theirs)
    return make_error(errc::conflict,
                      fmt::format("--min-insync={} is more than cluster '{}' keeps "
                                  "(--replication-factor={}): no write could be acknowledged",
                                  opts.min_insync, opts.cluster_name, theirs));
  opts.replication_factor = theirs;
  return {};
}

caf::error claim_data(state_store& store, membership_options& opts) {
  etcd_client etcd{opts.etcd, opts.etcd_tls};
  auto settings = cluster_settings_in_etcd(etcd, opts);
  if (!settings) return std::move(settings.error());
  if (auto err = check_transport(*settings, opts)) return err;
  if (auto err = settle_replication(*settings, opts)) return err;
  DataIdentity mine;
  mine.set_cluster_name(opts.cluster_name);
  mine.set_cluster_id(settings->id);
  mine.set_node_id(opts.node_id);
  auto stored = store.get(meta_cluster_key);
  if (!stored) return std::move(stored.error());
  if (!*stored) return claim_new_dir(etcd, store, opts, mine);
  DataIdentity theirs;
  if (!theirs.ParseFromString(**stored))
    return make_error(errc::app_error, "the data dir's cluster record does not parse");
  auto describe = [](const DataIdentity& id) {
    return "node '" + id.node_id() + "' of cluster '" + id.cluster_name() + "' (id " +
           id.cluster_id() + ")";
  };
  if (theirs.SerializeAsString() != mine.SerializeAsString())
    return make_error(errc::conflict, "the data dir belongs to " + describe(theirs) + ", not to " +
                                          describe(mine) +
                                          "; start it with its own identity or use another "
                                          "--data-dir");
  return check_held_epochs(etcd, store, opts);
}

std::string partition_epoch_record(uint32_t p) {
  return meta_key(std::string{partition_epoch_prefix} + partition_digits(p));
}

}  // namespace keel::cluster
