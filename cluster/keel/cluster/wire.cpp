#include "keel/cluster/wire.hpp"

#include <chrono>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "keel/runtime/errc.hpp"

namespace keel::cluster {

using namespace std::chrono_literals;

wire_reply failed_reply(errc code, std::string message) {
  wire_reply out;
  out.code = static_cast<uint8_t>(code);
  out.error = std::move(message);
  return out;
}

wire_reply to_wire(const call_result& result) {
  if (!result) return failed_reply(code_of(result.error()), message_of(result.error()));
  wire_reply out;
  out.message_type = (*result)->GetDescriptor()->full_name();
  out.payload = (*result)->SerializeAsString();
  return out;
}

call_result from_wire(const wire_reply& reply, const std::string& node_id) {
  if (reply.code != 0) {
    if (auto code = errc_from_wire(reply.code)) return make_error(*code, reply.error);
    return make_error(errc::app_error, "node " + node_id + " answered with error code " +
                                           std::to_string(reply.code) +
                                           ", unknown here: " + reply.error);
  }
  const auto* desc =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(reply.message_type);
  if (!desc)
    return make_error(errc::app_error, "reply type " + reply.message_type + " is unknown here");
  std::shared_ptr<google::protobuf::Message> out{
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(desc)->New()};
  if (!out->ParseFromString(reply.payload))
    return make_error(errc::app_error, "reply of type " + reply.message_type + " does not parse");
  return message_ptr{std::move(out)};
}

void configure_cluster_transport(caf::actor_system_config& cfg, const cluster_tls& tls) {
  cfg.add_message_type<wire_call>("keel.wire_call");
  cfg.add_message_type<wire_reply>("keel.wire_reply");
  cfg.add_message_type<std::vector<wire_call>>("keel.wire_call_list");
  cfg.add_message_type<std::vector<wire_reply>>("keel.wire_reply_list");
  cfg.add_message_type<wire_batch>("keel.wire_batch");
  cfg.add_message_type<wire_answers>("keel.wire_answers");
  cfg.add_message_type<turn_row>("keel.turn_row");
  cfg.add_message_type<wire_turns>("keel.wire_turns");
  cfg.add_message_type<wire_handoff>("keel.wire_handoff");
  cfg.add_message_type<wire_chunk>("keel.wire_chunk");
  cfg.add_message_type<wire_partition_writes>("keel.wire_partition_writes");
  cfg.add_message_type<std::vector<wire_partition_writes>>("keel.wire_partition_writes_list");
  cfg.add_message_type<wire_replicate>("keel.wire_replicate");
  cfg.add_message_type<wire_sequences_ask>("keel.wire_sequences_ask");
  cfg.load<caf::io::middleman>();
  // A hung peer (SIGSTOP, a cut link) is noticed only with heartbeats on.
  cfg.set("middleman.heartbeat-interval", caf::timespan{200ms});
  cfg.set("middleman.connection-timeout", caf::timespan{2s});
  // The multiplexer thread deserializes what it reads and hands it to its receiver, rather
  // than handing each message to a BASP worker thread first: one thread hand-off less on
  // every message between nodes (docs/benchmarks.md, "Cross-node calls").
  cfg.set("middleman.workers", size_t{0});
  if (!tls.enabled()) return;
  // CAF's openssl sessions then require a certificate on both sides, signed by the CA.
  cfg.openssl_certificate = tls.node.cert;
  cfg.openssl_key = tls.node.key;
  cfg.openssl_cafile = tls.ca;
  cfg.load<caf::openssl::manager>();
}

}  // namespace keel::cluster
