#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>

namespace keel {
class node_fence;
class state_store;
struct runtime_metrics;
}  // namespace keel

namespace keel::detail {

/// Spawns the node's one store writer: a detached actor (its own thread, so fsync never
/// blocks a scheduler worker) that answers `(commit_atom, commit_request_ptr)` with the new
/// state version once the write is durable, settles `(commit_atom, turn_commit_ptr)` by
/// calling its done() on a CAF worker after the sync, and answers
/// `(reload_atom, actor_id, bool with_entries)` with the durable state (and entries) once every
/// commit received before it is settled. Writes queued while a batch syncs all go into the next
/// WriteBatch and one sync (group commit). A write whose expected version is not the stored one is
/// refused with `conflict`. While `fence` (if any) is closed, nothing is written and every commit
/// fails with `unavailable`. On an exit it writes and settles what it holds and terminates only
/// once every settlement ran. Requires: `store` and `metrics` outlive the actor.
/// A batch the store fails to write (`app_error`: it may be on disk) fails its turns with
/// `app_error`, and `on_failure` runs once, on the writer's thread, with the reason: the
/// store takes no more writes (state_store::write), so every later commit answers
/// `unavailable` until the node is restarted.
/// The output gate: `(replicator_atom, commit_replicator_ptr)` installs a commit_replicator
/// (null removes it) for the batches flushed after it. With one, a commit that writes is
/// first admitted by it (a refusal answers the commit, nothing of it written), each batch's
/// turn writes go to it before the local write, and the batch's turns (and commit
/// requests) are released only once it acknowledged and every batch before them was
/// released; the writer meanwhile writes the next batches. A replication failure answers
/// `unknown_outcome` (the batch is on the local disk). `(replace_atom, partition, writes)`
/// (replace_range, apply_replicated) is never replicated and is answered on the local sync.
/// `(snapshot_atom, at_snapshot_ptr)` runs the function between two batches and answers
/// with a store_snapshot taken at that moment (partition_host::read_range_live).
caf::actor spawn_store_writer(caf::actor_system& sys, state_store& store, runtime_metrics& metrics,
                              std::shared_ptr<const node_fence> fence = nullptr,
                              std::function<void(const std::string&)> on_failure = {});

/// Spawns a detached reader answering `(load_atom, actor_id, bool with_entries)` with a
/// load_result_ptr (the actor's entries too if asked) and
/// `(scan_atom, uint32_t first, uint32_t count)` with the reminder records of partitions
/// [first, first + count), and `(scan_atom, uint32_t partition)` with one partition's.
/// Requires: `store` outlives the actor.
caf::actor spawn_store_reader(caf::actor_system& sys, state_store& store);

}  // namespace keel::detail
