#include "keel/cluster/node_endpoint.hpp"

#include <chrono>
#include <map>

#include <google/protobuf/message.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/handoff.hpp"
#include "keel/cluster/peer_link.hpp"
#include "keel/cluster/replica_applier.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/cluster/wire_checks.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/node_runtime.hpp"

namespace keel::cluster {

namespace {

using answer_atom = caf::atom_constant<caf::atom("answer")>;

struct endpoint_state {
  std::map<uint64_t, caf::response_promise> answering;
  uint64_t next_id = 0;
  bool stopping = false;  // quits once `answering` is empty
};

// How long a stopping endpoint waits for the answers of calls already running here: their
// deadlines end them sooner (the runtime's sweep answers `timeout`); this only bounds a
// stop that a lost answer would otherwise hang.
constexpr std::chrono::seconds answers_wait{10};

using stop_now_atom = caf::atom_constant<caf::atom("stopnow")>;

// A call from another node, delivered here as a local one; its answer goes back through
// the endpoint's mailbox.
caf::result<wire_reply> accept_call(caf::stateful_actor<endpoint_state>* self,
                                    node_runtime* runtime, cluster_metrics* metrics,
                                    wire_call& call) {
  auto request = decode_call(runtime->types(), call, runtime->options().node_id);
  if (!request) return failed_reply(code_of(request.error()), message_of(request.error()));
  actor_id target{call.target_type, call.target_key};
  // On the runtime's clock, which its sweep checks deadlines by.
  auto deadline = runtime->monotonic().now() + std::chrono::milliseconds{call.budget_ms};
  std::shared_ptr<envelope> env;
  caf::response_promise promise;
  if (call.one_way) {
    env = std::make_shared<envelope>();
    env->target = std::move(target);
  } else {
    auto id = self->state.next_id++;
    promise = self->make_response_promise();
    self->state.answering.emplace(id, promise);
    // The answer may come on any thread: it goes back through this actor's mailbox.
    env = make_call(std::move(target), deadline,
                    [me = caf::actor_cast<caf::actor>(self), id](call_result result) {
                      caf::anon_send(me, answer_atom::value, id, to_wire(result));
                    });
  }
  env->message_type = call.message_type;
  env->payload = std::move(*request);
  if (auto trace = trace_id::from_hex(call.trace)) env->trace = *trace;
  env->parent_span = span_id{call.parent_span};
  env->caller = call.caller;
  env->epoch = call.epoch;
  env->hops = call.hops;
  metrics->calls_received.add();
  runtime->partitions().deliver(std::move(env));
  if (call.one_way) return wire_reply{};
  return caf::delegated<wire_reply>{};
}

caf::behavior endpoint(caf::stateful_actor<endpoint_state>* self, node_runtime* runtime,
                       handoff* handoff, replica_applier* replicas, cluster_metrics* metrics) {
  // Published: any peer could send it an exit (CAF_NOTES.md §5). Only stop_atom stops it.
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
      [=](wire_call& call) { return accept_call(self, runtime, metrics, call); },
      [=](answer_atom, uint64_t id, wire_reply& reply) {
        auto it = self->state.answering.find(id);
        if (it == self->state.answering.end()) return;
        it->second.deliver(std::move(reply));
        self->state.answering.erase(it);
        if (self->state.stopping && self->state.answering.empty()) self->quit();
      },
      // The coordinator asks this node to hand a partition over; answered when it is done.
      [=](wire_handoff& req) -> caf::result<wire_reply> {
        auto id = self->state.next_id++;
        self->state.answering.emplace(id, self->make_response_promise());
        handoff->hand_off(std::move(req),
                          [me = caf::actor_cast<caf::actor>(self), id](wire_reply reply) {
                            caf::anon_send(me, answer_atom::value, id, std::move(reply));
                          });
        return caf::delegated<wire_reply>{};
      },
      [=](wire_chunk& chunk) -> caf::result<wire_reply> {
        auto promise = self->make_response_promise<wire_reply>();
        auto& ingester = handoff->ingester_for(chunk.partition);
        self->request(ingester, caf::infinite, std::move(chunk))
            .then([promise](wire_reply& reply) mutable { promise.deliver(std::move(reply)); },
                  [promise](caf::error& err) mutable {
                    promise.deliver(
                        failed_reply(errc::unavailable, "ingest failed: " + message_of(err)));
                  });
        return promise;
      },
      // An owner's writes for a partition copied here (replica_applier.hpp).
      [=](wire_replicate& writes) -> caf::result<wire_reply> {
        auto promise = self->make_response_promise<wire_reply>();
        self->request(replicas->actor_for(writes.from), caf::infinite, std::move(writes))
            .then([promise](wire_reply& reply) mutable { promise.deliver(std::move(reply)); },
                  [promise](caf::error& err) mutable {
                    promise.deliver(
                        failed_reply(errc::unavailable, "replica failed: " + message_of(err)));
                  });
        return promise;
      },
      [=](const wire_sequences_ask& ask) { return replicas->applied(ask.partitions); },
      [](ping_atom) { return pong_atom::value; },
      [=](gather_atom, const std::string& hex) {
        auto trace = trace_id::from_hex(hex);
        return trace ? runtime->turns().rows(*trace, runtime->options().node_id) : wire_turns{};
      },
      // The node stops: calls that ran here are answered first. Quitting at once lost the
      // answer of a call that had run, and its caller, told `unknown_outcome`, could not
      // know its increment was in.
      [=](stop_atom) {
        self->state.stopping = true;
        if (self->state.answering.empty()) return self->quit();
        self->delayed_send(self, answers_wait, stop_now_atom::value);
      },
      [=](stop_now_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor spawn_node_endpoint(caf::actor_system& sys, node_runtime& runtime, handoff& handoff,
                               replica_applier& replicas, cluster_metrics& metrics) {
  return sys.spawn(endpoint, &runtime, &handoff, &replicas, &metrics);
}

}  // namespace keel::cluster
