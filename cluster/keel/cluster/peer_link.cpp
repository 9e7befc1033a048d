#include "keel/cluster/peer_link.hpp"

#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/flush_soon.hpp"
#include "keel/cluster/phi_detector.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;
using beat_atom = caf::atom_constant<caf::atom("beat")>;
using dial_atom = caf::atom_constant<caf::atom("dial")>;

constexpr auto heartbeat_interval = 200ms;
// A beat this late means this process did not run (SIGSTOP, a starved machine): the peer's
// silence meanwhile says nothing about the peer, and is not held against it.
constexpr auto own_pause = 5 * heartbeat_interval;
constexpr auto connect_limit = std::chrono::milliseconds{2000};
constexpr int max_connect_tries = 3;
constexpr auto connect_retry = std::chrono::milliseconds{100};
constexpr size_t max_batch = 256;  // calls in one wire_batch

struct link_state {
  refused_fn on_refused;
  std::shared_ptr<link_health> health;
  std::shared_ptr<const monotonic_clock> clock;
  std::shared_ptr<spdlog::logger> log;
  std::string node_id;
  std::string host;
  uint16_t port = 0;
  std::chrono::milliseconds dial_delay{0};  // spawn_peer_link
  counter* wire_damaged = nullptr;          // answers dropped (cluster_metrics)
  caf::actor peer;                          // the peer's endpoint; null while not connected
  bool connecting = false;
  std::chrono::steady_clock::time_point connect_started{};  // this dial
  std::chrono::steady_clock::time_point round_started{};    // the first dial of a round
  int failed_connects = 0;                                  // in a row, not refused
  bool lost = false;  // the link went down; the next connect decides whether the peer is gone
  // Our own heartbeats on top of CAF's: a peer whose pongs stop (hung, not dead) is
  // suspected once phi says the silence is abnormal for this link; calls to it then fail at
  // once instead of waiting for their deadline. A pong clears the suspicion.
  phi_detector detector;
  bool beating = false;
  bool suspected = false;
  phi_detector::clock::time_point last_beat{};
  std::vector<std::pair<envelope_ptr, wire_call>> waiting;  // for the connection
  std::map<uint64_t, envelope_ptr> pending;                 // calls sent, not answered
  // Calls and tells forwarded since the last flush: the flush message, queued behind what
  // was in the mailbox when the first of them came, sends them all in one wire_batch.
  wire_batch outgoing;
  bool flush_due = false;
  // Handoff messages waiting for the connection, and those sent and not answered.
  std::vector<std::pair<std::function<void()>, caf::response_promise>> relays_waiting;
  // Trace gatherings waiting for the connection: a node asked for a trace must reach
  // every peer, not only those it happened to call.
  std::vector<std::pair<std::string, caf::typed_response_promise<wire_turns>>> gathers_waiting;
  std::map<uint64_t, caf::response_promise> relayed;
  uint64_t next_id = 0;
};

using link_actor = caf::stateful_actor<link_state>;

// Records the link's state; a change is logged (they are rare: a peer lost or back).
void set_health(link_actor* self, link_health::state s, std::string_view why = {}) {
  auto& st = self->state;
  auto before = st.health->current();
  st.health->set(s, st.clock->now());
  if (before == s || !st.log) return;
  if (why.empty())
    st.log->info("link to {} at {}:{}: {}", st.node_id, st.host, st.port, link_health::name(s));
  else
    st.log->info("link to {} at {}:{}: {} ({})", st.node_id, st.host, st.port, link_health::name(s),
                 why);
}

void fail_call(const envelope_ptr& env, errc code, const std::string& why,
               caf::execution_unit* host) {
  if (env->reply) env->reply->complete(make_error(code, why), host);
}

// Calls batched but not sent yet: they did not run, and never will.
void drop_outgoing(link_actor* self, const std::string& why) {
  auto& st = self->state;
  for (size_t i = 0; i < st.outgoing.ids.size(); ++i) {
    auto it = st.pending.find(st.outgoing.ids[i]);
    if (it == st.pending.end()) continue;
    fail_call(it->second, errc::unavailable, why, self->context());
    st.pending.erase(it);
  }
  st.outgoing = {};
}

// Calls sent to the peer, whose answers are lost with it: they may have run there.
void fail_pending(link_actor* self, const std::string& why) {
  auto& st = self->state;
  drop_outgoing(self, why);
  for (auto& [id, env] : st.pending)
    fail_call(env, errc::unknown_outcome, why + "; the call may have run there", self->context());
  st.pending.clear();
  for (auto& [id, promise] : st.relayed) promise.deliver(failed_reply(errc::unavailable, why));
  st.relayed.clear();
}

// Calls never sent: they did not run.
void fail_waiting(link_actor* self, const std::string& why) {
  auto& st = self->state;
  for (auto& [env, call] : st.waiting) fail_call(env, errc::unavailable, why, self->context());
  st.waiting.clear();
  for (auto& [send, promise] : st.relays_waiting)
    promise.deliver(failed_reply(errc::unavailable, why));
  st.relays_waiting.clear();
  for (auto& [hex, promise] : st.gathers_waiting) promise.deliver(wire_turns{});
  st.gathers_waiting.clear();
}

// Asks the connected peer for a trace's turns; nothing if it does not answer within 1 s.
void gather(link_actor* self, std::string hex, caf::typed_response_promise<wire_turns> promise) {
  self->request(self->state.peer, std::chrono::seconds{1}, gather_atom::value, std::move(hex))
      .then([promise](wire_turns& turns) mutable { promise.deliver(std::move(turns)); },
            [promise](caf::error&) mutable { promise.deliver(wire_turns{}); });
}

void send_outgoing(link_actor* self) {
  auto& st = self->state;
  if (st.outgoing.calls.empty() || !st.peer) return;
  self->send(st.peer, std::move(st.outgoing));
  st.outgoing = {};
}

void flush(link_actor* self) {
  self->state.flush_due = false;
  send_outgoing(self);
}

// Queues a call for the next batch to the connected peer; its answer comes in a
// wire_answers. A tell is not answered: it is not kept once sent.
void send_call(link_actor* self, envelope_ptr env, wire_call call) {
  auto& st = self->state;
  auto id = st.next_id++;
  if (env->reply) {
    // From here on it may run on the peer: dropped unanswered, it says so (envelope.hpp).
    env->reply->mark_started();
    // No timeout here: the caller's slot has its deadline in the node-wide sweep, and a
    // lost peer fails everything pending at once (down handler below).
    st.pending.emplace(id, std::move(env));
  }
  st.outgoing.ids.push_back(id);
  st.outgoing.calls.push_back(std::move(call));
  // A batch is decoded whole on the peer's multiplexer thread, beside every heartbeat.
  if (st.outgoing.calls.size() >= max_batch) return send_outgoing(self);
  flush_soon(self, st.flush_due);
}

void answered(link_actor* self, wire_answers& answers) {
  auto& st = self->state;
  if (!st.peer) return;  // lost meanwhile: its calls failed with it
  // Only the peer's endpoint answers this link's calls: answers from anyone else, or whose
  // ids do not match their replies, are dropped, and the calls end at their deadlines.
  if (answers.ids.size() != answers.replies.size() ||
      self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(st.peer)) {
    if (st.wire_damaged) st.wire_damaged->add();
    return;
  }
  for (size_t i = 0; i < answers.ids.size(); ++i) {
    auto it = st.pending.find(answers.ids[i]);
    if (it == st.pending.end()) continue;
    it->second->reply->complete(from_wire(answers.replies[i], st.node_id), self->context());
    st.pending.erase(it);
  }
}

void on_connected(link_actor* self, caf::actor peer) {
  auto& st = self->state;
  st.peer = std::move(peer);
  st.lost = false;
  st.failed_connects = 0;
  st.detector = phi_detector{};
  st.suspected = false;
  set_health(self, link_health::state::connected);
  self->monitor(st.peer);
  if (!st.beating) {
    st.beating = true;
    st.last_beat = st.clock->now();
    self->send(self, beat_atom::value);
  }
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& [env, call] : waiting) send_call(self, std::move(env), std::move(call));
  auto relays = std::move(st.relays_waiting);
  st.relays_waiting.clear();
  for (auto& [send, promise] : relays) send();
  auto gathers = std::move(st.gathers_waiting);
  st.gathers_waiting.clear();
  for (auto& [hex, promise] : gathers) gather(self, std::move(hex), std::move(promise));
}

void dial(link_actor* self);

void connect(link_actor* self) {
  auto& st = self->state;
  if (st.connecting) return;
  st.connecting = true;
  // A retry for waiting calls (failed_connects) continues the round.
  if (st.failed_connects == 0) st.round_started = st.clock->now() + st.dial_delay;
  if (!st.peer) set_health(self, link_health::state::connecting);
  if (st.dial_delay.count() == 0) return dial(self);
  self->delayed_send(self, st.dial_delay, dial_atom::value);
}

// CAF 0.17's BASP broker starts a dial's last-seen time at its clock's epoch, so its next
// heartbeat tick (middleman.heartbeat-interval, 200 ms) ends a dial whose handshake is still
// under way with connection_timeout, however young. A TLS handshake often spans a tick (a
// loaded host: every one); plaintext's hardly ever does, and keeps its behaviour. The tick
// has just passed, so a TLS dial is tried again at once, until the round took connect_limit.
bool dial_again_after_tick(link_actor* self, const caf::error& err) {
  auto& st = self->state;
  if (err != caf::sec::connection_timeout || !self->system().has_openssl_manager()) return false;
  if (st.clock->now() - st.round_started >= connect_limit) return false;
  dial(self);
  return true;
}

void dial(link_actor* self) {
  auto& st = self->state;
  st.connect_started = st.clock->now();
  // The openssl module's middleman dials TLS with this node's certificate (cluster TLS).
  auto& sys = self->system();
  auto mm = sys.has_openssl_manager() ? sys.openssl_manager().actor_handle()
                                      : sys.middleman().actor_handle();
  self->request(mm, connect_limit, caf::connect_atom::value, st.host, st.port)
      .then(
          [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& st = self->state;
            st.connecting = false;
            if (ptr) return on_connected(self, caf::actor_cast<caf::actor>(std::move(ptr)));
            set_health(self, link_health::state::unreachable, "no endpoint");
            fail_waiting(self, "node " + st.node_id + " has no endpoint");
          },
          [self](caf::error& err) {
            if (dial_again_after_tick(self, err)) return;
            auto& st = self->state;
            st.connecting = false;
            // Timed out long after its limit: this process was paused meanwhile (SIGSTOP),
            // and the attempt says nothing about the peer. Try again before failing calls.
            auto took = st.clock->now() - st.connect_started;
            if (err == caf::sec::request_timeout && took > connect_limit + own_pause)
              return connect(self);
            // Not refused: the peer's process is there (a handshake cut short, as when two
            // nodes that just started connect to each other at once). Calls wait for a
            // few more tries before they fail.
            bool refused = err == caf::sec::cannot_connect_to_node;
            // Gatherings do not keep retrying: a read does not drive failure detection.
            bool someone_waits = !st.waiting.empty() || !st.relays_waiting.empty();
            if (!refused && someone_waits && ++st.failed_connects < max_connect_tries) {
              self->delayed_send(self, connect_retry, watch_atom::value);
              return;
            }
            st.failed_connects = 0;
            // Refused, not timed out: a hung peer's port still accepts (the kernel does). Only
            // after the link was lost (the first attempt may end in a handshake cut short by
            // the dying process; `lost` clears on a connection): CAF gives the same error for
            // an address that does not resolve or route, and a node misconfigured so would be
            // declared down over and over.
            if (st.lost && st.on_refused && err == caf::sec::cannot_connect_to_node)
              st.on_refused(st.node_id);
            set_health(self, link_health::state::unreachable, message_of(err));
            fail_waiting(self, "cannot connect to node " + st.node_id + " at " + st.host + ":" +
                                   std::to_string(st.port) + ": " + message_of(err));
          });
}

// Relays a handoff message to the peer, once connected; a lost peer fails it at once.
template <class Message>
caf::result<wire_reply> relay(link_actor* self, Message& msg) {
  auto& st = self->state;
  if (st.suspected)
    return failed_reply(errc::unavailable, "node " + st.node_id + " does not answer heartbeats");
  auto id = st.next_id++;
  auto promise = self->make_response_promise();
  auto send = [self, id, promise, msg = std::move(msg)]() mutable {
    self->state.relayed.emplace(id, promise);
    auto answer = [self, id](wire_reply reply) {
      auto it = self->state.relayed.find(id);
      if (it == self->state.relayed.end()) return;
      it->second.deliver(std::move(reply));
      self->state.relayed.erase(it);
    };
    self->request(self->state.peer, caf::infinite, std::move(msg))
        .then([answer](wire_reply& reply) { answer(std::move(reply)); },
              [answer, self](caf::error& err) {
                answer(failed_reply(errc::unavailable,
                                    "node " + self->state.node_id + ": " + message_of(err)));
              });
  };
  if (st.peer) {
    // Calls forwarded before it go first, as they did before calls were batched.
    send_outgoing(self);
    send();
  } else {
    st.relays_waiting.emplace_back(std::move(send), promise);
    connect(self);
  }
  return caf::delegated<wire_reply>{};
}

void beat(link_actor* self) {
  auto& st = self->state;
  if (!st.peer) {
    st.beating = false;
    return;
  }
  auto now = st.clock->now();
  if (now - st.last_beat > own_pause) st.detector.forgive_silence(now);
  st.last_beat = now;
  // An error answer (the peer's endpoint gone, the connection lost) must not end the link:
  // its down handler deals with a lost peer, and silence is the detector's.
  self->request(st.peer, caf::infinite, ping_atom::value)
      .then(
          [self](pong_atom) {
            auto& st = self->state;
            st.detector.heartbeat(st.clock->now());
            if (st.suspected && st.peer) set_health(self, link_health::state::connected);
            st.suspected = false;
          },
          [](caf::error&) {});
  if (!st.suspected && st.detector.suspects(now)) {
    st.suspected = true;
    set_health(self, link_health::state::suspected,
               fmt::format("phi {:.1f}", st.detector.phi(now)));
    fail_pending(self, fmt::format("node {} stopped answering heartbeats (phi {:.1f})", st.node_id,
                                   st.detector.phi(now)));
  }
  self->delayed_send(self, heartbeat_interval, beat_atom::value);
}

caf::behavior link(link_actor* self, std::string node_id, std::string host, uint16_t port,
                   std::chrono::milliseconds dial_delay, refused_fn on_refused,
                   std::shared_ptr<link_health> health,
                   std::shared_ptr<const monotonic_clock> clock,
                   std::shared_ptr<spdlog::logger> log, counter* wire_damaged) {
  auto& st = self->state;
  st.log = std::move(log);
  st.wire_damaged = wire_damaged;
  st.on_refused = std::move(on_refused);
  st.health = std::move(health);
  st.clock = std::move(clock);
  st.node_id = std::move(node_id);
  st.host = std::move(host);
  st.port = port;
  st.dial_delay = dial_delay;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.peer.address()) return;
    // CAF fails none of these by itself (CAF_NOTES.md §6).
    fail_pending(self, "node " + st.node_id + " went down (" + message_of(msg.reason) + ")");
    st.peer = nullptr;
    set_health(self, link_health::state::connecting, "lost: " + message_of(msg.reason));
    // Reconnect at once: a refused connection means the process is gone.
    st.lost = true;
    connect(self);
  });
  // Whatever ends this actor (stop_atom, or a bug), the directory sees it and replaces it.
  self->attach_functor([health = st.health, clock = st.clock] {
    health->set(link_health::state::stopped, clock->now());
  });
  return {
      [self](forward_atom, envelope_ptr& env, wire_call& call) {
        auto& st = self->state;
        if (st.suspected)
          return fail_call(env, errc::unavailable,
                           "node " + st.node_id + " does not answer heartbeats", self->context());
        if (st.peer) return send_call(self, std::move(env), std::move(call));
        st.waiting.emplace_back(std::move(env), std::move(call));
        connect(self);
      },
      [self](flush_atom) { flush(self); },
      [self](wire_answers& answers) { answered(self, answers); },
      [self](watch_atom) {
        if (!self->state.peer) connect(self);
      },
      [self](wire_handoff& req) { return relay(self, req); },
      [self](wire_chunk& chunk) { return relay(self, chunk); },
      [self](wire_replicate& writes) { return relay(self, writes); },
      [self](wire_sequences_ask& ask) { return relay(self, ask); },
      // A trace's turns on this link's peer, connecting first if need be; nothing if the
      // peer is suspected, cannot be reached or is slow.
      [self](gather_atom, std::string& hex) -> caf::result<wire_turns> {
        auto& st = self->state;
        // A peer found unreachable is not waited for again: a read must not pay the
        // connect timeout on every request.
        if (st.suspected || st.health->current() == link_health::state::unreachable)
          return wire_turns{};
        auto promise = self->make_response_promise<wire_turns>();
        if (st.peer) {
          gather(self, std::move(hex), promise);
        } else {
          st.gathers_waiting.emplace_back(std::move(hex), promise);
          connect(self);
        }
        return promise;
      },
      [self](beat_atom) { beat(self); },
      [self](dial_atom) { dial(self); },
      [self](stop_atom) {
        fail_pending(self, "node is stopping");
        fail_waiting(self, "node is stopping");
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_peer_link(caf::actor_system& sys, std::string node_id, std::string host,
                           uint16_t port, std::chrono::milliseconds dial_delay,
                           refused_fn on_refused, std::shared_ptr<link_health> health,
                           std::shared_ptr<const monotonic_clock> clock,
                           std::shared_ptr<spdlog::logger> log, counter* wire_damaged) {
  return sys.spawn(link, std::move(node_id), std::move(host), port, dial_delay,
                   std::move(on_refused), std::move(health), std::move(clock), std::move(log),
                   wire_damaged);
}

}  // namespace keel::cluster
