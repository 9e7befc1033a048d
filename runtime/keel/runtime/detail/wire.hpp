#pragma once

// CAF message types used inside one node. Only runtime/ includes this header.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "keel/runtime/commit_replicator.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel::detail {

/// A reply (or its error) travelling back to an awaiting actor as a CAF response: one
/// message type for both, so the waiting behavior has a single case.
struct reply_msg {
  call_result result;
};

/// One key-value operation of a commit.
struct kv_op {
  std::string key;
  std::string value;
  bool erase = false;
};

/// One turn's durable effects: the state (if it changed) plus side records such as
/// reminders. Applied in the same WriteBatch, so they land together or not at all.
struct commit_request {
  virtual ~commit_request() = default;

  std::string state_key;          // empty: no version check (a stateless actor)
  uint64_t expected_version = 0;  // the version the turn started from
  bool write_state = true;        // false: only check that the version is still expected
  std::string state_bytes;
  std::vector<kv_op> side_ops;
};
using commit_request_ptr = std::shared_ptr<const commit_request>;

/// A turn's commit, pipelined: the activation does not wait for it. Once the batch holding
/// it is synced (or the commit is refused), the store writer has done() called on a CAF
/// worker, never on its own thread, and done() releases the turn's reply and effects.
struct turn_commit : commit_request {
  /// `failure` is empty if the commit is durable. Must not block.
  virtual void done(caf::error failure) = 0;
};
using turn_commit_ptr = std::shared_ptr<turn_commit>;

/// One synced batch's turn commits with their failures (empty: durable), to be released.
using settled_turns = std::vector<std::pair<turn_commit_ptr, caf::error>>;
using settled_turns_ptr = std::shared_ptr<settled_turns>;

/// What an activation loads before its first turn.
struct load_result {
  uint64_t version = 0;  // 0: never written
  std::string state_bytes;
  std::vector<std::pair<std::string, std::string>> reminders;  // key, serialized record
  std::vector<std::pair<std::string, std::string>> entries;    // name, bytes (with_entries)
};
using load_result_ptr = std::shared_ptr<const load_result>;

/// A partition's new records, replacing its whole range (state_store.hpp's store_write).
using partition_writes_ptr = std::shared_ptr<std::vector<store_write>>;

/// Called by the store writer once a replica's applied writes are durable (or failed).
using applied_fn_ptr = std::shared_ptr<std::function<void(caf::error)>>;

/// A moment of the store the writer marked between two batches (partition_host::read_range_live),
/// and what runs on its thread at that moment.
using store_snapshot_ptr = std::shared_ptr<const store_snapshot>;
using at_snapshot_ptr = std::shared_ptr<std::function<void()>>;

/// The output gate the store writer hands its turn writes to (null: none).
using commit_replicator_ptr = std::shared_ptr<commit_replicator>;

using commit_atom = caf::atom_constant<caf::atom("commit")>;
using replace_atom = caf::atom_constant<caf::atom("replace")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using scan_atom = caf::atom_constant<caf::atom("scan")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using evict_atom = caf::atom_constant<caf::atom("evict")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using fire_atom = caf::atom_constant<caf::atom("fire")>;
using fired_atom = caf::atom_constant<caf::atom("fired")>;
// The wall clock jumped ahead (node_runtime::wall_clock_moved): fire what is due by now.
using moved_atom = caf::atom_constant<caf::atom("moved")>;
using upsert_atom = caf::atom_constant<caf::atom("upsert")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using settle_atom = caf::atom_constant<caf::atom("settle")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
// The output gate: a replicator installed in the store writer, and a batch's acknowledgement.
using replicator_atom = caf::atom_constant<caf::atom("replicator")>;
using replicated_atom = caf::atom_constant<caf::atom("replicated")>;
// The stopping store writer's releaser stops waiting for acknowledgements.
using give_up_atom = caf::atom_constant<caf::atom("give_up")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;

}  // namespace keel::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::reply_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::commit_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::turn_commit_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::settled_turns_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::load_result_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::partition_writes_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::applied_fn_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::commit_replicator_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::store_snapshot_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::detail::at_snapshot_ptr)
