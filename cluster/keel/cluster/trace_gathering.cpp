// Gathering a trace's turns from every member (GET /v1/traces/{id}): a part of the
// directory kept apart, since it shares nothing with routing but the links.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "keel/cluster/cluster_directory.hpp"
#include "keel/cluster/membership.hpp"

namespace keel::cluster {

using namespace std::chrono_literals;

void cluster_directory::gather_turns(const trace_id& trace,
                                     std::function<void(std::vector<turn_row>)> done) {
  std::vector<caf::actor> peers;
  for (const auto& m : members_.members())
    if (m.node_id() != self_ && !m.cluster_address().empty())
      peers.push_back(links_.link_to(m.node_id(), m.cluster_address()));
  if (peers.empty()) return done({});
  // One short-lived actor collects the answers; each link answers within ~1 s.
  sys_.spawn([peers, hex = trace.to_hex(), done = std::move(done)](caf::event_based_actor* self) {
    auto rows = std::make_shared<wire_turns>();
    auto left = std::make_shared<size_t>(peers.size());
    auto finish = [self, rows, left, done] {
      if (--*left > 0) return;
      done(std::move(*rows));
      self->quit();
    };
    for (const auto& peer : peers)
      self->request(peer, 2s, gather_atom::value, hex)
          .then(
              [rows, finish](wire_turns& turns) {
                for (auto& t : turns) rows->push_back(std::move(t));
                finish();
              },
              [finish](caf::error&) { finish(); });
  });
}

}  // namespace keel::cluster
