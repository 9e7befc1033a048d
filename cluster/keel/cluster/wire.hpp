#pragma once

// The messages nodes exchange over CAF's middleman. Every process registers them (through
// register_wire_types) before it creates its actor_system: an unregistered type arrives
// as an empty message (CAF_NOTES.md §5).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "keel/cluster/cluster_tls.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/turn_log.hpp"

namespace keel {

// Found by argument-dependent lookup: turn_row lives in namespace keel.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, turn_row& x) {
  return f(caf::meta::type_name("keel.turn_row"), x.node, x.actor, x.message, x.caller, x.start_ms,
           x.duration_us, x.outcome, x.version_before, x.version_after);
}

}  // namespace keel

namespace keel::cluster {

/// One call (or one-way message) to a virtual actor, crossing nodes: the payload is the
/// request's protobuf bytes, serialized here and only here.
struct wire_call {
  std::string target_type;
  std::string target_key;
  std::string message_type;
  std::string payload;
  uint64_t epoch = 0;        // the partition epoch the sender routed by
  int64_t budget_ms = 0;     // the caller's remaining time: deadlines never cross as clock values
  std::string trace;         // 32 hex digits, or empty
  uint64_t parent_span = 0;  // the calling turn's span id; 0: none
  std::string caller;
  uint8_t hops = 0;  // forwards so far
  bool one_way = false;
};

/// The answer to a wire_call: a reply (code 0) or a Keel error code with its message.
struct wire_reply {
  uint8_t code = 0;
  std::string message_type;  // the reply's protobuf full name
  std::string payload;
  std::string error;
};

/// Calls and tells for one node that were ready together, in the order they were forwarded:
/// one wire send for all (peer_link.cpp). Sent one-way; each call (not a tell) is answered
/// in a wire_answers under its `ids[i]`, sent to the link that sent the batch.
struct wire_batch {
  std::vector<uint64_t> ids;
  std::vector<wire_call> calls;
};

/// Answers to batched calls that were ready together, from the node they ran on.
struct wire_answers {
  std::vector<uint64_t> ids;
  std::vector<wire_reply> replies;
};

/// The coordinator asks a partition's owner to hand it to node `to` (DESIGN.md "Handoff").
/// Answered with a wire_reply once `to` has made the partition's records durable.
struct wire_handoff {
  uint32_t partition = 0;
  std::string to;
  uint64_t epoch = 0;  // the epoch `to` will own it at
};

/// Part of a partition's key range, from its owner to the node it moves to. Chunks of one
/// stream come in order (seq from 0); the last one makes the new owner write them all.
struct wire_chunk {
  uint32_t partition = 0;
  uint64_t epoch = 0;
  std::string from;
  uint32_t seq = 0;
  bool last = false;
  // A replica's catch-up: the receiver keeps the range as a copy of `from`'s partition at
  // `epoch`, and does not take it over.
  bool copy = false;
  std::vector<std::string> keys;
  std::vector<std::string> values;
};

/// One partition's writes of one of its owner's group commits, for a replica: the
/// commit's sequence number in the partition's epoch, and each write (erase[i] != 0: an
/// erase of keys[i]).
struct wire_partition_writes {
  uint32_t partition = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<uint8_t> erase;
};

/// A group commit's writes for the partitions one replica copies, from their owner.
/// Answered with a wire_reply once the replica has them durably, or with the reason it
/// refused them all (then it applied none).
struct wire_replicate {
  std::string from;
  std::vector<wire_partition_writes> parts;
};

/// The coordinator asks a replica which commits it applied of `partitions` (failover):
/// answered with a wire_reply whose payload is an AppliedSequences.
struct wire_sequences_ask {
  std::vector<uint32_t> partitions;
};

/// A trace's turns on one node (GET /v1/traces gathers them from every member).
using wire_turns = std::vector<turn_row>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_call& x) {
  return f(caf::meta::type_name("keel.wire_call"), x.target_type, x.target_key, x.message_type,
           x.payload, x.epoch, x.budget_ms, x.trace, x.parent_span, x.caller, x.hops, x.one_way);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_reply& x) {
  return f(caf::meta::type_name("keel.wire_reply"), x.code, x.message_type, x.payload, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_batch& x) {
  return f(caf::meta::type_name("keel.wire_batch"), x.ids, x.calls);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_answers& x) {
  return f(caf::meta::type_name("keel.wire_answers"), x.ids, x.replies);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_handoff& x) {
  return f(caf::meta::type_name("keel.wire_handoff"), x.partition, x.to, x.epoch);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_chunk& x) {
  return f(caf::meta::type_name("keel.wire_chunk"), x.partition, x.epoch, x.from, x.seq, x.last,
           x.copy, x.keys, x.values);
}

/// wire_partition_writes::erase as it crosses nodes: the same bytes as a std::vector<uint8_t>
/// (a length, then one byte a flag), but read a byte at a time. CAF 0.17 sizes a byte vector
/// by the length on the wire before it reads a byte, so a damaged or hostile message of a
/// few bytes had a node allocate 4 GiB (found by fuzz_wire_message).
struct wire_erase_flags {
  std::vector<uint8_t>& flags;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_erase_flags& x) {
  if constexpr (Inspector::reads_state) {
    return f(x.flags);
  } else {
    size_t size = 0;
    if (auto err = f.begin_sequence(size)) return err;
    x.flags.clear();
    for (size_t i = 0; i < size; ++i) {
      uint8_t flag = 0;
      if (auto err = f(flag)) return err;  // ends at the message's last byte
      x.flags.push_back(flag);
    }
    return f.end_sequence();
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_partition_writes& x) {
  wire_erase_flags erase{x.erase};
  return f(caf::meta::type_name("keel.wire_partition_writes"), x.partition, x.epoch, x.seq, x.keys,
           x.values, erase);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_replicate& x) {
  return f(caf::meta::type_name("keel.wire_replicate"), x.from, x.parts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_sequences_ask& x) {
  return f(caf::meta::type_name("keel.wire_sequences_ask"), x.partitions);
}

/// A wire_reply with an error code (code 0 is success).
wire_reply failed_reply(errc code, std::string message);

/// A call's result as it crosses back to the calling node.
wire_reply to_wire(const call_result& result);

/// A reply from node `node_id`, checked: an error code this build does not know becomes
/// `app_error` naming it, never a cast.
call_result from_wire(const wire_reply& reply, const std::string& node_id);

/// Answers between nodes that are not calls: a link's heartbeat, and a trace's turns.
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using gather_atom = caf::atom_constant<caf::atom("gather")>;

/// Registers the wire types and loads CAF's middleman with heartbeats on, so that a hung
/// peer is noticed too; with `tls` enabled, also CAF's openssl module with the node's
/// certificate and the cluster's CA (cluster_directory publishes and peer_link connects
/// through it then). Call on the config of every keel-node before creating the system.
void configure_cluster_transport(caf::actor_system_config& cfg, const cluster_tls& tls = {});

}  // namespace keel::cluster
