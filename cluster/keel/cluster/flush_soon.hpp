#pragma once

#include <caf/atom.hpp>

namespace keel::cluster {

/// What an actor that batches sends itself to send what it queued.
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// Sends `self` a flush_atom unless one is on its way (`due`). The flush is read after
/// whatever was in the mailbox when the first message was queued, so everything queued
/// meanwhile leaves together: peer_link's calls, node_endpoint's answers.
/// Thread safety: call from `self`'s own handlers; the handler of flush_atom clears `due`.
template <class Actor>
void flush_soon(Actor* self, bool& due) {
  if (due) return;
  due = true;
  self->send(self, flush_atom::value);
}

}  // namespace keel::cluster
