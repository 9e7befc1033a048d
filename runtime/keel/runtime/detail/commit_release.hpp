#pragma once

#include <chrono>
#include <cstdint>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>

#include "keel/runtime/detail/wire.hpp"

namespace keel::detail {

/// How long a stopping node waits for its replicas to acknowledge the batches it wrote.
inline constexpr std::chrono::seconds replica_wait_at_stop{5};

/// Spawns the store writer's releaser, which calls the settled turns' done() on a CAF
/// worker in commit order (on the writer's thread they would delay the next sync). It takes
///  - `(settle_atom, settled_turns_ptr)`: a batch needing no acknowledgement, released once
///    every batch before it is;
///  - `(settle_atom, uint64_t batch, settled_turns_ptr)`: batch number `batch`, written
///    locally, whose writes went to the commit_replicator: held until its
///    `(replicated_atom, uint64_t batch, caf::error)` came (in any order, even first) and
///    every batch before it is released. A replication error turns each turn that would
///    have succeeded into errc::unknown_outcome: its commit is on the local disk;
///  - `(drain_atom)`, from the stopping writer: quits once nothing is held, or after
///    replica_wait_at_stop, settling what is still held with errc::unknown_outcome.
/// Batches arrive from the writer only, so their order is the commit order.
/// Thread safety: an actor; talk to it with messages.
caf::actor spawn_commit_releaser(caf::actor_system& sys);

/// A commit request (`(commit_atom, commit_request_ptr)`) answered by the releaser in its
/// batch's turn, for a writer with an output gate: the writer cannot know when the batch is
/// released. Requires: `promise` was made with the releaser as its responder, since only
/// the releaser's thread may deliver it; done() runs only there.
turn_commit_ptr answer_on_release(caf::response_promise promise, uint64_t version);

}  // namespace keel::detail
