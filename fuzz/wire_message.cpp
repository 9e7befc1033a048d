// A message from a peer node as CAF's middleman decodes it (a caf::message read by a
// binary_deserializer, with the wire types registered as keel-node registers them), then
// the checks the node runs before acting on it: a call's key, type, handler and payload
// (decode_call), a reply's code and type (from_wire), a stream chunk's partition and keys
// (chunk_malformation), a replication batch's writes (check_replicated). What a check
// accepts must be what the code after it relies on.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include "keel/cluster/replica_check.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/cluster/wire_checks.hpp"
#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/runtime/utf8.hpp"

namespace {

using namespace keel;
using namespace keel::cluster;

struct fuzz_node {
  fuzz_node() {
    cfg.set("scheduler.max-threads", 1);
    configure_cluster_transport(cfg);
    sys.emplace(cfg);
    register_counter(types);
    register_test_actors(types);
  }
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  type_registry types;
};

// One for the process: an actor_system is costly to start, and the bytes decoded here
// never reach an actor. Never destroyed: libFuzzer exits with the system's threads up.
fuzz_node& node() {
  static auto* instance = new fuzz_node;
  return *instance;
}

void check_call(const wire_call& call) {
  auto request = decode_call(node().types, call, "n1");
  if (request && (!*request || !valid_utf8(call.target_key))) __builtin_trap();
}

void check_reply(const wire_reply& reply) {
  auto result = from_wire(reply, "n2");
  if (result && (reply.code != 0 || !*result)) __builtin_trap();
}

void check_chunk(const wire_chunk& chunk) {
  if (!chunk_malformation(chunk).empty()) return;
  // The ingester pairs keys[i] with values[i] and writes them inside the partition.
  if (chunk.partition >= partition_count || chunk.keys.size() != chunk.values.size())
    __builtin_trap();
  for (const auto& key : chunk.keys)
    if (!key.starts_with(partition_range(chunk.partition))) __builtin_trap();
}

void check_writes(const std::string& from, const wire_partition_writes& part) {
  // As a replica whose table gives the partition to `from` at the writes' epoch: the
  // deepest the checks go. And as one without a record of the partition.
  PartitionRecord rec;
  rec.set_owner(from);
  rec.set_epoch(part.epoch);
  rec.add_replicas("n1");
  ReplicaSequence last;
  last.set_epoch(part.epoch);
  last.set_seq(part.seq - 1);
  (void)check_replicated(nullptr, "n1", from, part, std::nullopt);
  for (auto seen : {std::optional<ReplicaSequence>{}, std::optional<ReplicaSequence>{last}}) {
    if (check_replicated(&rec, "n1", from, part, seen)) continue;
    // The applier indexes values[i] and erase[i] by keys' i, and writes inside the range.
    if (part.keys.size() != part.values.size() || part.keys.size() != part.erase.size() ||
        part.partition >= partition_count)
      __builtin_trap();
    for (const auto& key : part.keys)
      if (!key.starts_with(partition_range(part.partition)) ||
          key == replica_sequence_key(part.partition))
        __builtin_trap();
  }
}

// What decode(encode(x)) gives back encodes as x did: the inspect functions read what
// they write, so a message a node forwards arrives as it left. Only for Keel's types: a
// node never writes back a peer's message of CAF's own types, and CAF 0.17 cannot (its
// float writer loops forever on an infinity).
void check_round_trip(caf::message& msg) {
  std::vector<char> bytes;
  caf::binary_serializer sink{*node().sys, bytes};
  if (auto err = sink(msg)) return;  // not every CAF type can be written back
  caf::message again;
  caf::binary_deserializer source{*node().sys, bytes};
  if (auto err = source(again)) __builtin_trap();
  std::vector<char> bytes2;
  caf::binary_serializer sink2{*node().sys, bytes2};
  if (auto err = sink2(again); err || bytes2 != bytes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // CAF 0.17's own byte vector (`@charbuf`) is sized by the length on the wire before its
  // bytes are read, so a few bytes ask for gigabytes. That is CAF's to fix (no Keel message
  // holds one; Keel's own byte vector is read safely, see wire_erase_flags): inputs naming
  // it are skipped, so that a run looks for Keel's defects (docs/operations.md, "Fuzzing").
  constexpr std::string_view caf_byte_vector = "@charbuf";
  if (std::string_view{reinterpret_cast<const char*>(data), size}.find(caf_byte_vector) !=
      std::string_view::npos)
    return 0;
  caf::message msg;
  caf::binary_deserializer source{*node().sys, reinterpret_cast<const char*>(data), size};
  if (auto err = source(msg)) return 0;
  if (msg.match_elements<wire_call>()) {
    check_call(msg.get_as<wire_call>(0));
  } else if (msg.match_elements<wire_batch>()) {
    for (const auto& call : msg.get_as<wire_batch>(0).calls) check_call(call);
  } else if (msg.match_elements<wire_answers>()) {
    for (const auto& reply : msg.get_as<wire_answers>(0).replies) check_reply(reply);
  } else if (msg.match_elements<wire_reply>()) {
    check_reply(msg.get_as<wire_reply>(0));
  } else if (msg.match_elements<wire_chunk>()) {
    check_chunk(msg.get_as<wire_chunk>(0));
  } else if (msg.match_elements<wire_replicate>()) {
    const auto& batch = msg.get_as<wire_replicate>(0);
    for (const auto& part : batch.parts) check_writes(batch.from, part);
  } else if (msg.match_elements<wire_partition_writes>()) {
    check_writes("n2", msg.get_as<wire_partition_writes>(0));
  } else if (!msg.match_elements<wire_handoff>() && !msg.match_elements<wire_sequences_ask>() &&
             !msg.match_elements<wire_turns>()) {
    return 0;
  }
  check_round_trip(msg);
  return 0;
}
