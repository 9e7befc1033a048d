#include "keel/cluster/node_endpoint.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <google/protobuf/message.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/cluster_metrics.hpp"
#include "keel/cluster/flush_soon.hpp"
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

// Answers to batched calls bound for one calling link.
struct answers_to {
  caf::strong_actor_ptr link;
  wire_answers answers;
};

struct endpoint_state {
  std::map<uint64_t, caf::response_promise> answering;  // single wire_calls
  uint64_t next_id = 0;
  size_t batched_unanswered = 0;  // calls of wire_batches still running here
  std::vector<answers_to> ready;  // answers not sent yet, by calling link
  bool flush_due = false;
  bool stopping = false;  // quits once every call that ran here is answered
};

// How long a stopping endpoint waits for the answers of calls already running here: their
// deadlines end them sooner (the runtime's sweep answers `timeout`); this only bounds a
// stop that a lost answer would otherwise hang.
constexpr std::chrono::seconds answers_wait{10};

using stop_now_atom = caf::atom_constant<caf::atom("stopnow")>;
using batch_answer_atom = caf::atom_constant<caf::atom("bansw")>;

// A call from another node, delivered here as a local one. `answer` runs once with its
// reply (on any thread), unless the call is one-way: a tell that cannot run is dropped, as
// one that fails here is.
template <class Answer>
void accept_call(node_runtime* runtime, cluster_metrics* metrics, wire_call& call, Answer answer) {
  auto request = decode_call(runtime->types(), call, runtime->options().node_id);
  if (!request) {
    if (!call.one_way) answer(failed_reply(code_of(request.error()), message_of(request.error())));
    return;
  }
  actor_id target{call.target_type, call.target_key};
  // On the runtime's clock, which its sweep checks deadlines by.
  auto deadline = runtime->monotonic().now() + std::chrono::milliseconds{call.budget_ms};
  std::shared_ptr<envelope> env;
  if (call.one_way) {
    env = std::make_shared<envelope>();
    env->target = std::move(target);
  } else {
    env = make_call(
        std::move(target), deadline,
        [answer = std::move(answer)](call_result result) mutable { answer(to_wire(result)); });
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
}

using endpoint_actor = caf::stateful_actor<endpoint_state>;

// A call refused because this node is stopping: it did not run, so `unavailable`.
wire_reply stopping_reply(const node_runtime& runtime) {
  return failed_reply(errc::unavailable, "node " + runtime.options().node_id + " is stopping");
}

bool all_answered(const endpoint_state& st) {
  return st.answering.empty() && st.batched_unanswered == 0 && st.ready.empty();
}

// One call as a request of its own (a peer's link before batches, and tests): answered
// through the endpoint's mailbox with a response.
caf::result<wire_reply> accept_single(endpoint_actor* self, node_runtime* runtime,
                                      cluster_metrics* metrics, wire_call& call) {
  // As for a batch's calls: a stopping node starts nothing new.
  if (self->state.stopping) return stopping_reply(*runtime);
  if (call.one_way) {
    accept_call(runtime, metrics, call, [](wire_reply) {});
    return wire_reply{};
  }
  auto id = self->state.next_id++;
  self->state.answering.emplace(id, self->make_response_promise());
  accept_call(runtime, metrics, call, [me = caf::actor_cast<caf::actor>(self), id](wire_reply r) {
    caf::anon_send(me, answer_atom::value, id, std::move(r));
  });
  return caf::delegated<wire_reply>{};
}

// Queues an answer for its link; the answers queued before the flush message is read go
// back together.
void queue_answer(endpoint_actor* self, caf::strong_actor_ptr& link, uint64_t id,
                  wire_reply& reply) {
  auto& st = self->state;
  --st.batched_unanswered;
  if (!link) return;
  auto to = std::find_if(st.ready.begin(), st.ready.end(),
                         [&](const answers_to& a) { return a.link == link; });
  if (to == st.ready.end()) to = st.ready.insert(st.ready.end(), answers_to{link, {}});
  to->answers.ids.push_back(id);
  to->answers.replies.push_back(std::move(reply));
  flush_soon(self, st.flush_due);
}

// A batch's calls run here; their answers go back to the link that sent it, batched too.
void accept_batch(endpoint_actor* self, node_runtime* runtime, cluster_metrics* metrics,
                  wire_batch& batch) {
  auto link = self->current_sender();
  if (batch.ids.size() != batch.calls.size()) {
    metrics->wire_damaged.add();  // no call can be answered: the callers' deadlines end them
    return;
  }
  for (size_t i = 0; i < batch.calls.size(); ++i) {
    auto& call = batch.calls[i];
    if (!call.one_way) ++self->state.batched_unanswered;
    // A stopping node answers what ran here and starts nothing new: not run, so unavailable.
    if (self->state.stopping) {
      if (!call.one_way) {
        auto refused = stopping_reply(*runtime);
        queue_answer(self, link, batch.ids[i], refused);
      }
      continue;
    }
    accept_call(runtime, metrics, call,
                [me = caf::actor_cast<caf::actor>(self), link, id = batch.ids[i]](wire_reply r) {
                  caf::anon_send(me, batch_answer_atom::value, link, id, std::move(r));
                });
  }
}

void flush_answers(endpoint_actor* self) {
  auto& st = self->state;
  st.flush_due = false;
  for (auto& to : st.ready) self->send(caf::actor_cast<caf::actor>(to.link), std::move(to.answers));
  st.ready.clear();
  if (st.stopping && all_answered(st)) self->quit();
}

caf::behavior endpoint(endpoint_actor* self, node_runtime* runtime, handoff* handoff,
                       replica_applier* replicas, cluster_metrics* metrics) {
  // Published: any peer could send it an exit (CAF_NOTES.md §5). Only stop_atom stops it.
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
      [=](wire_call& call) { return accept_single(self, runtime, metrics, call); },
      [=](wire_batch& batch) { accept_batch(self, runtime, metrics, batch); },
      [=](answer_atom, uint64_t id, wire_reply& reply) {
        auto it = self->state.answering.find(id);
        if (it == self->state.answering.end()) return;
        it->second.deliver(std::move(reply));
        self->state.answering.erase(it);
        if (self->state.stopping && all_answered(self->state)) self->quit();
      },
      [=](batch_answer_atom, caf::strong_actor_ptr& link, uint64_t id, wire_reply& reply) {
        queue_answer(self, link, id, reply);
      },
      [=](flush_atom) { flush_answers(self); },
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
        if (all_answered(self->state)) return self->quit();
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
