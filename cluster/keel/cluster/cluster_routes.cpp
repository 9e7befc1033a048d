#include "keel/cluster/cluster_routes.hpp"

#include <map>

#include "keel/cluster/cluster.pb.h"
#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/cluster_event_log.hpp"
#include "keel/cluster/failover.hpp"
#include "keel/cluster/membership.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/node_runtime.hpp"

namespace keel::cluster {

namespace {

// The table's copies as `now` shows them: per member the partitions it copies (and of those
// the ones in sync), and the health of the whole.
struct copy_counts {
  std::map<std::string, uint32_t> replicas;
  std::map<std::string, uint32_t> in_sync;
  std::map<std::string, uint32_t> under_replicated;  // by owner
  ReplicationView view;
};

copy_counts count_copies(const cluster_snapshot& now, const membership_options& opts) {
  copy_counts out;
  out.view.set_factor(static_cast<uint32_t>(opts.replication_factor));
  out.view.set_min_insync(static_cast<uint32_t>(opts.min_insync));
  now.partitions.for_each([&](uint32_t, const versioned_record& v) {
    const auto& rec = v.record;
    for (const auto& id : rec.replicas()) ++out.replicas[id];
    for (const auto& id : rec.isr()) ++out.in_sync[id];
    if (under_replicated(rec, opts.replication_factor)) {
      out.view.set_under_replicated(out.view.under_replicated() + 1);
      ++out.under_replicated[rec.owner()];
    }
    if (awaits_a_copy(now, rec)) out.view.set_unavailable(out.view.unavailable() + 1);
  });
  return out;
}

ClusterView view_of(node_runtime& runtime, membership* members, const cluster_directory* directory,
                    const single_node_info& self) {
  ClusterView view;
  view.set_node_id(self.node_id);
  view.set_cluster_name(self.cluster_name);
  auto local_activations = static_cast<uint32_t>(runtime.activations());
  if (!members) {
    view.set_coordinator(self.node_id);
    auto* m = view.add_members();
    m->set_node_id(self.node_id);
    m->set_status("up");
    m->set_http_address(self.http_host + ":" + std::to_string(self.http_port->load()));
    m->set_partitions(partition_count);  // alone, it owns every partition
    m->set_activations(local_activations);
    return view;
  }
  std::map<std::string, uint32_t> owned;
  for (const auto& [p, rec] : members->partitions()) ++owned[rec.owner()];
  auto copies = count_copies(*members->snapshot(), members->options());
  for (const auto& member : members->members()) {
    auto* m = view.add_members();
    m->set_partitions(owned[member.node_id()]);
    m->set_replicas(copies.replicas[member.node_id()]);
    m->set_in_sync(copies.in_sync[member.node_id()]);
    m->set_under_replicated(copies.under_replicated[member.node_id()]);
    m->set_node_id(member.node_id());
    // Registered under a live lease; leaving while the coordinator moves its share away.
    m->set_status(members->is_draining(member.node_id()) ? "leaving" : "up");
    m->set_http_address(member.http_address());
    m->set_cluster_address(member.cluster_address());
    if (directory) m->set_link(directory->link_state(member.node_id()));
    if (member.node_id() == self.node_id) m->set_activations(local_activations);
  }
  // An owner in the table that is no member is down: its partitions wait for it.
  for (const auto& [owner, count] : owned) {
    bool member = false;
    for (const auto& m : view.members()) member = member || m.node_id() == owner;
    if (member) continue;
    auto* m = view.add_members();
    m->set_node_id(owner);
    m->set_status("down");
    m->set_partitions(count);
    m->set_under_replicated(copies.under_replicated[owner]);
  }
  for (const auto& id : members->draining()) view.add_draining(id);
  view.set_coordinator(members->coordinator());
  *view.mutable_rebalance() = members->rebalance();
  *view.mutable_replication() = copies.view;
  view.set_fenced(!members->is_open());
  if (view.fenced()) view.set_fence_reason(members->why_closed());
  return view;
}

PartitionTableView table_of(membership* members) {
  PartitionTableView view;
  view.set_total(partition_count);
  if (!members) return view;  // a single node has no table: it owns everything
  for (const auto& [p, rec] : members->partitions()) {
    *view.add_partitions() = partition_view(p, rec);
  }
  view.set_placed(static_cast<uint32_t>(view.partitions_size()));
  return view;
}

}  // namespace

void register_cluster_routes(http::gateway& gw, node_runtime& runtime, membership* members,
                             const cluster_directory* directory, single_node_info self) {
  gw.add_route(
      "GET", "/v1/cluster",
      [&runtime, members, directory, self](const http::exchange_ptr& ex) {
        ex->respond(200, http::to_json(view_of(runtime, members, directory, self)));
      },
      http::api_scope::admin, http::route_doc::json(nullptr, ClusterView::descriptor()));
  if (directory && members)
    gw.add_readiness_check([directory, limit = 2 * members->options().lease_ttl] {
      return directory->unreachable_member(limit);
    });
  gw.add_route(
      "GET", "/v1/cluster/partitions",
      [members](const http::exchange_ptr& ex) {
        ex->respond(200, http::to_json(table_of(members)));
      },
      http::api_scope::admin, http::route_doc::json(nullptr, PartitionTableView::descriptor()));
  // Bounded: the log keeps its capacity's worth. A single node has no cluster events.
  gw.add_route(
      "GET", "/v1/cluster/events",
      [events = members ? members->options().events : nullptr,
       node_id = self.node_id](const http::exchange_ptr& ex) {
        ClusterEvents none;
        none.set_node_id(node_id);
        ex->respond(200, http::to_json(events ? events->view(node_id) : none));
      },
      http::api_scope::admin, http::route_doc::json(nullptr, ClusterEvents::descriptor()));
  // Blocks this HTTP thread for one etcd write (milliseconds).
  gw.add_route(
      "POST", "/v1/cluster/nodes/{id}/drain",
      [members](const http::exchange_ptr& ex) {
        if (!members)
          return ex->fail(
              make_error(errc::conflict, "a single node has nowhere to move its actors"));
        std::string id{ex->param("id")};
        if (auto err = members->drain(id, "drain requested over HTTP",
                                      membership::drain_scope::until_left))
          return ex->fail(err);
        MemberView view;
        view.set_node_id(id);
        view.set_status("leaving");
        ex->respond(202, http::to_json(view));
      },
      http::api_scope::admin, http::route_doc::json(nullptr, MemberView::descriptor(), 202));
  gw.add_route(
      "DELETE", "/v1/cluster/nodes/{id}/drain",
      [members](const http::exchange_ptr& ex) {
        if (!members)
          return ex->fail(make_error(errc::not_found, "a single node is never drained"));
        std::string id{ex->param("id")};
        if (auto err = members->cancel_drain(id)) return ex->fail(err);
        MemberView view;
        view.set_node_id(id);
        view.set_status(members->cluster_address_of(id).empty() ? "down" : "up");
        ex->respond(200, http::to_json(view));
      },
      http::api_scope::admin, http::route_doc::json(nullptr, MemberView::descriptor()));
}

}  // namespace keel::cluster
