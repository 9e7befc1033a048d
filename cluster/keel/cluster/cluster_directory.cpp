#include "keel/cluster/cluster_directory.hpp"

#include <chrono>
#include <functional>
#include <future>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "keel/cluster/membership.hpp"
#include "keel/cluster/phi_detector.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/state_store.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(keel::envelope_ptr)

namespace keel::cluster {

namespace {

using namespace std::chrono_literals;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using beat_atom = caf::atom_constant<caf::atom("beat")>;
using gather_atom = caf::atom_constant<caf::atom("gather")>;

constexpr auto heartbeat_interval = std::chrono::milliseconds{200};

constexpr uint8_t max_hops = 3;

wire_reply to_wire(const call_result& result) {
  wire_reply out;
  if (result) {
    out.message_type = (*result)->GetDescriptor()->full_name();
    out.payload = (*result)->SerializeAsString();
  } else {
    out.code = static_cast<uint8_t>(code_of(result.error()));
    out.error = message_of(result.error());
  }
  return out;
}

call_result from_wire(const wire_reply& reply) {
  if (reply.code != 0) return make_error(static_cast<errc>(reply.code), reply.error);
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

// -- the endpoint: this node's published actor, answering other nodes' calls ----------------

struct endpoint_state {
  std::map<uint64_t, caf::response_promise> answering;
  uint64_t next_id = 0;
};

caf::behavior endpoint(caf::stateful_actor<endpoint_state>* self, node_runtime* runtime,
                       handoff* handoff) {
  // Published: any peer could send it an exit (CAF_NOTES.md §5). Only stop_atom stops it.
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
      [=](wire_call& call) -> caf::result<wire_reply> {
        auto fail = [](errc code, std::string message) -> caf::result<wire_reply> {
          wire_reply out;
          out.code = static_cast<uint8_t>(code);
          out.error = std::move(message);
          return out;
        };
        const auto* type = runtime->types().find(call.target_type);
        if (!type)
          return fail(errc::unknown_actor_type, "no actor type '" + call.target_type + "'");
        const auto* handler = type->find(call.message_type);
        // A reminder's firing held while its partition moved is delivered to the new owner.
        bool reminder = call.message_type == "$reminder";
        if (!handler && !reminder)
          return fail(errc::unknown_message, "actor type '" + call.target_type +
                                                 "' has no handler for '" + call.message_type +
                                                 "'");
        std::shared_ptr<google::protobuf::Message> request{
            reminder ? new keel::runtime::ReminderFired : handler->request_prototype->New()};
        if (!request->ParseFromString(call.payload))
          return fail(errc::bad_payload, call.message_type + " from another node does not parse");
        actor_id target{call.target_type, call.target_key};
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds{call.budget_ms};
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
        env->payload = std::move(request);
        if (auto trace = trace_id::from_hex(call.trace)) env->trace = *trace;
        env->caller = call.caller;
        env->epoch = call.epoch;
        env->hops = call.hops;
        runtime->router().send(std::move(env));
        if (call.one_way) return wire_reply{};
        return caf::delegated<wire_reply>{};
      },
      [=](answer_atom, uint64_t id, wire_reply& reply) {
        auto it = self->state.answering.find(id);
        if (it == self->state.answering.end()) return;
        it->second.deliver(std::move(reply));
        self->state.answering.erase(it);
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
                  [promise, self](caf::error& err) mutable {
                    promise.deliver(failed_reply(static_cast<uint8_t>(errc::unavailable),
                                                 "ingest failed: " + self->system().render(err)));
                  });
        return promise;
      },
      [](ping_atom) { return pong_atom::value; },
      [=](gather_atom, const std::string& hex) {
        auto trace = trace_id::from_hex(hex);
        return trace ? runtime->turns().rows(*trace, runtime->options().node_id) : wire_turns{};
      },
      [=](stop_atom) { self->quit(); },
  };
}

// -- a link: this node's calls to one peer ---------------------------------------------------

// Called on the link's thread when the peer's port refused a reconnect right after the link
// went down: the process is gone, not slow. Must not block.
using refused_fn = std::function<void(const std::string& node_id)>;

struct link_state {
  refused_fn on_refused;
  std::string node_id;
  std::string host;
  uint16_t port = 0;
  caf::actor peer;  // the peer's endpoint; null while not connected
  bool connecting = false;
  bool lost = false;  // the link went down; the next connect decides whether the peer is gone
  // Our own heartbeats on top of CAF's: a peer whose pongs stop (hung, not dead) is
  // suspected once phi says the silence is abnormal for this link; calls to it then fail at
  // once instead of waiting for their deadline. A pong clears the suspicion.
  phi_detector detector;
  bool beating = false;
  bool suspected = false;
  std::vector<std::pair<envelope_ptr, wire_call>> waiting;  // for the connection
  std::map<uint64_t, envelope_ptr> pending;                 // sent, not answered
  std::map<uint64_t, caf::response_promise> relayed;        // handoff messages, not answered
  uint64_t next_id = 0;
};

using link_actor = caf::stateful_actor<link_state>;

void fail_call(const envelope_ptr& env, const std::string& why, caf::execution_unit* host) {
  if (env->reply) env->reply->complete(make_error(errc::unavailable, why), host);
}

void send_call(link_actor* self, envelope_ptr env, wire_call call) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.pending.emplace(id, std::move(env));
  // No CAF timeout: the caller's slot has its deadline in the node-wide sweep, and a lost
  // peer fails everything pending at once (down handler below).
  self->request(st.peer, caf::infinite, std::move(call))
      .then(
          [self, id](wire_reply& reply) {
            auto it = self->state.pending.find(id);
            if (it == self->state.pending.end()) return;
            if (it->second->reply) it->second->reply->complete(from_wire(reply), self->context());
            self->state.pending.erase(it);
          },
          [self, id](caf::error& err) {
            auto it = self->state.pending.find(id);
            if (it == self->state.pending.end()) return;
            fail_call(it->second,
                      "call to node " + self->state.node_id + " failed: " + message_of(err),
                      self->context());
            self->state.pending.erase(it);
          });
}

void connect(link_actor* self) {
  auto& st = self->state;
  if (st.connecting) return;
  st.connecting = true;
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, 2s, caf::connect_atom::value, st.host, st.port)
      .then(
          [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& st = self->state;
            st.connecting = false;
            if (!ptr) {
              for (auto& [env, call] : st.waiting)
                fail_call(env, "node " + st.node_id + " has no endpoint", self->context());
              st.waiting.clear();
              return;
            }
            st.peer = caf::actor_cast<caf::actor>(std::move(ptr));
            st.lost = false;
            st.detector = phi_detector{};
            st.suspected = false;
            self->monitor(st.peer);
            if (!st.beating) {
              st.beating = true;
              self->send(self, beat_atom::value);
            }
            auto waiting = std::move(st.waiting);
            st.waiting.clear();
            for (auto& [env, call] : waiting) send_call(self, std::move(env), std::move(call));
          },
          [self](caf::error& err) {
            auto& st = self->state;
            st.connecting = false;
            // Refused, not timed out: a hung peer's port still accepts (the kernel does).
            if (st.lost && st.on_refused && err == caf::sec::cannot_connect_to_node)
              st.on_refused(st.node_id);
            st.lost = false;
            auto why = "cannot connect to node " + st.node_id + " at " + st.host + ":" +
                       std::to_string(st.port) + ": " + self->system().render(err);
            for (auto& [env, call] : st.waiting) fail_call(env, why, self->context());
            st.waiting.clear();
          });
}

// Relays a handoff message to the peer; a lost peer fails it at once (not at a timeout).
template <class Message>
caf::result<wire_reply> relay(link_actor* self, Message& msg) {
  auto& st = self->state;
  if (!st.peer || st.suspected) {
    if (!st.peer) connect(self);
    return failed_reply(static_cast<uint8_t>(errc::unavailable),
                        std::string{not_connected_prefix} + st.node_id);
  }
  auto id = st.next_id++;
  st.relayed.emplace(id, self->make_response_promise());
  auto answer = [self, id](wire_reply reply) {
    auto it = self->state.relayed.find(id);
    if (it == self->state.relayed.end()) return;
    it->second.deliver(std::move(reply));
    self->state.relayed.erase(it);
  };
  self->request(st.peer, caf::infinite, std::move(msg))
      .then(
          [answer](wire_reply& reply) { answer(std::move(reply)); },
          [answer, self](caf::error& err) {
            answer(failed_reply(static_cast<uint8_t>(errc::unavailable),
                                "node " + self->state.node_id + ": " + self->system().render(err)));
          });
  return caf::delegated<wire_reply>{};
}

void fail_relayed(link_actor* self, const std::string& why) {
  for (auto& [id, promise] : self->state.relayed)
    promise.deliver(failed_reply(static_cast<uint8_t>(errc::unavailable), why));
  self->state.relayed.clear();
}

caf::behavior link(link_actor* self, std::string node_id, std::string host, uint16_t port,
                   refused_fn on_refused) {
  self->state.on_refused = std::move(on_refused);
  self->state.node_id = std::move(node_id);
  self->state.host = std::move(host);
  self->state.port = port;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.peer.address()) return;
    // CAF fails none of these by itself (CAF_NOTES.md §6).
    auto why = "node " + st.node_id + " went down: " + self->system().render(msg.reason);
    for (auto& [id, env] : st.pending) fail_call(env, why, self->context());
    st.pending.clear();
    fail_relayed(self, why);
    st.peer = nullptr;
    // Reconnect at once: a refused connection means the process is gone.
    st.lost = true;
    connect(self);
  });
  return {
      [self](forward_atom, envelope_ptr& env, wire_call& call) {
        auto& st = self->state;
        if (st.suspected)
          return fail_call(env, "node " + st.node_id + " does not answer heartbeats",
                           self->context());
        if (st.peer) return send_call(self, std::move(env), std::move(call));
        st.waiting.emplace_back(std::move(env), std::move(call));
        connect(self);
      },
      [self](watch_atom) {
        if (!self->state.peer) connect(self);
      },
      [self](wire_handoff& req) { return relay(self, req); },
      [self](wire_chunk& chunk) { return relay(self, chunk); },
      // A trace's turns on this link's peer; nothing if it is not connected or slow.
      [self](gather_atom, std::string& hex) -> caf::result<wire_turns> {
        if (!self->state.peer || self->state.suspected) return wire_turns{};
        auto promise = self->make_response_promise<wire_turns>();
        self->request(self->state.peer, 1s, gather_atom::value, std::move(hex))
            .then([promise](wire_turns& turns) mutable { promise.deliver(std::move(turns)); },
                  [promise](caf::error&) mutable { promise.deliver(wire_turns{}); });
        return promise;
      },
      [self](beat_atom) {
        auto& st = self->state;
        if (!st.peer) {
          st.beating = false;
          return;
        }
        self->request(st.peer, caf::infinite, ping_atom::value).then([self](pong_atom) {
          auto& st = self->state;
          st.detector.heartbeat(phi_detector::clock::now());
          st.suspected = false;
        });
        auto now = phi_detector::clock::now();
        if (!st.suspected && st.detector.suspects(now)) {
          st.suspected = true;
          auto why = fmt::format("node {} stopped answering heartbeats (phi {:.1f})", st.node_id,
                                 st.detector.phi(now));
          for (auto& [id, env] : st.pending) fail_call(env, why, self->context());
          st.pending.clear();
          fail_relayed(self, why);
        }
        self->delayed_send(self, heartbeat_interval, beat_atom::value);
      },
      [self](stop_atom) {
        auto& st = self->state;
        for (auto& [id, env] : st.pending) fail_call(env, "node is stopping", self->context());
        for (auto& [env, call] : st.waiting) fail_call(env, "node is stopping", self->context());
        fail_relayed(self, "node is stopping");
        self->quit();
      },
  };
}

}  // namespace

void configure_cluster_transport(caf::actor_system_config& cfg) {
  cfg.add_message_type<wire_call>("keel.wire_call");
  cfg.add_message_type<wire_reply>("keel.wire_reply");
  cfg.add_message_type<turn_row>("keel.turn_row");
  cfg.add_message_type<wire_turns>("keel.wire_turns");
  cfg.add_message_type<wire_handoff>("keel.wire_handoff");
  cfg.add_message_type<wire_chunk>("keel.wire_chunk");
  cfg.load<caf::io::middleman>();
  // A hung peer (SIGSTOP, a cut link) is noticed only with heartbeats on.
  cfg.set("middleman.heartbeat-interval", caf::timespan{200ms});
  cfg.set("middleman.connection-timeout", caf::timespan{2s});
}

cluster_directory::cluster_directory(membership& members, node_runtime& runtime,
                                     caf::actor_system& sys, std::shared_ptr<spdlog::logger> log,
                                     std::chrono::milliseconds test_ingest_delay)
    : members_(members),
      runtime_(runtime),
      sys_(sys),
      log_(std::move(log)),
      self_(members.options().node_id) {
  handoff::hooks hooks;
  hooks.link_to = [this](const std::string& node_id) { return member_link(node_id); };
  hooks.begin_release = [this](uint32_t p) { releasing_[p].store(true); };
  hooks.ingested = [this](uint32_t p) { ingested_[p].store(true); };
  handoff_ = std::make_unique<handoff>(members_, runtime_, sys_, std::move(hooks), log_,
                                       test_ingest_delay);
  members_.set_partition_listener(
      [this](uint32_t p, const std::optional<PartitionRecord>& before,
             const std::optional<PartitionRecord>& after) { on_partition(p, before, after); });
  endpoint_ = sys_.spawn(endpoint, &runtime_, handoff_.get());
  placer_ = std::thread{[this] { placer_loop(); }};
  rebalancer_ = std::make_unique<rebalancer>(
      members_,
      [this](const std::string& owner, const wire_handoff& req) { return ask_handoff(owner, req); },
      log_, rebalancer::options{});
}

cluster_directory::~cluster_directory() {
  stop();
}

caf::expected<uint16_t> cluster_directory::publish(const std::string& host, uint16_t port) {
  return sys_.middleman().publish(endpoint_, port, host.c_str(), true);
}

partition_directory::verdict cluster_directory::route(const envelope_ptr& env) {
  auto p = env->target.partition();
  auto rec = members_.partition(p);
  if (!rec) {
    std::unique_lock lock{held_mutex_};
    if (stopping_) {
      lock.unlock();
      fail_call(env, "node is stopping", nullptr);
    } else if (held_.size() >= max_held) {
      lock.unlock();
      if (env->reply)
        env->reply->complete(make_error(errc::overloaded, "too many calls wait for placement"));
    } else {
      held_.push_back(env);
      held_cv_.notify_one();
    }
    return verdict::taken;
  }
  // Held while the partition moves, and when the sender routed by a newer epoch than this
  // node knows: its table is behind (the watch lags), and forwarding by it would bounce the
  // call back to where it came from.
  if ((is_moving(p, *rec) || env->epoch > rec->epoch()) && hold_moving(env, p))
    return verdict::taken;
  if (rec->owner() == self_) {
    env->epoch = rec->epoch();
    return verdict::local;
  }
  forward(env, rec->owner(), rec->epoch());
  return verdict::taken;
}

bool cluster_directory::is_moving(uint32_t p, const PartitionRecord& rec) const {
  return rec.state() == "moving" || releasing_[p].load(std::memory_order_acquire);
}

bool cluster_directory::hold_moving(const envelope_ptr& env, uint32_t p) {
  std::unique_lock lock{moving_mutex_};
  // Again under the lock that on_partition() takes to release the held calls: a move that
  // ended since route() looked would otherwise strand this call until its deadline.
  auto rec = members_.partition(p);
  if (!rec || (!is_moving(p, *rec) && env->epoch <= rec->epoch())) return false;
  if (stopping_ || moving_held_count_ >= max_held) {
    lock.unlock();
    if (env->reply)
      env->reply->complete(
          make_error(stopping_ ? errc::unavailable : errc::overloaded,
                     stopping_ ? "node is stopping" : "too many calls wait for moving partitions"));
    return true;
  }
  if (env->reply)
    env->reply->set_held("partition " + std::to_string(p) + " of " + to_string(env->target) +
                         " was moving between nodes");
  moving_held_[p].push_back(env);
  ++moving_held_count_;
  return true;
}

void cluster_directory::on_partition(uint32_t p, const std::optional<PartitionRecord>& before,
                                     const std::optional<PartitionRecord>& after) {
  if (!after || after->state() == "moving") return;  // a move starts: route() holds
  if (after->owner() == self_) {
    bool aborted = releasing_[p].exchange(false);
    // Handed here: by a flip the watch reported, or by one that happened before this node's
    // first read of the table (a joining node receives streams at once), which then shows
    // it as this node's with no change seen.
    bool ingested = ingested_[p].exchange(false);
    bool arrived = ingested || (before && before->owner() != self_);
    // Open before the held calls are delivered, which would otherwise find it closed.
    if (aborted || arrived || runtime_.router().is_closed(p)) {
      runtime_.open_partition(p);
      if (aborted) log_->warn("handoff: move of partition {} aborted; serving it again", p);
    }
  } else {
    // Handed off from here (the table names the new owner), or a move to here was aborted
    // (the record went from moving-to-here back to its owner). Only that transition counts:
    // a node that joins receives streams before its first read of the table, whose records
    // are older than those streams and must not drop them.
    bool handed_off = releasing_[p].exchange(false);
    bool aborted_to_here = before && before->state() == "moving" && before->to() == self_ &&
                           ingested_[p].exchange(false);
    if (handed_off || aborted_to_here) {
      log_->debug("handoff: partition {} is {}'s at epoch {}: dropping the copy here", p,
                  after->owner(), after->epoch());
      handoff_->drop(p);
    }
  }
  std::deque<envelope_ptr> release;
  {
    std::lock_guard lock{moving_mutex_};
    auto it = moving_held_.find(p);
    if (it == moving_held_.end()) return;
    release.swap(it->second);
    moving_held_.erase(it);
    moving_held_count_ -= release.size();
  }
  for (auto& env : release) {
    if (env->reply) {
      if (env->reply->done()) continue;  // failed at its deadline while held: never run it
      env->reply->set_held({});
    }
    runtime_.router().redeliver(std::move(env));
  }
}

wire_reply cluster_directory::ask_handoff(const std::string& owner, const wire_handoff& req) {
  if (owner == self_) {
    auto answered = std::make_shared<std::promise<wire_reply>>();
    auto reply = answered->get_future();
    handoff_->hand_off(req, [answered](wire_reply r) { answered->set_value(std::move(r)); });
    return reply.get();
  }
  auto link = member_link(owner);
  if (!link)
    return failed_reply(static_cast<uint8_t>(errc::unavailable), "node " + owner + " is down");
  return ask_link(sys_, link, req);
}

caf::actor cluster_directory::member_link(const std::string& node_id) {
  auto address = members_.cluster_address_of(node_id);
  return address.empty() ? caf::actor{} : link_to(node_id, address);
}

size_t cluster_directory::owned_partitions() const {
  size_t n = 0;
  for (const auto& [p, rec] : members_.partitions())
    n += rec.owner() == self_ || (rec.state() == "moving" && rec.to() == self_);
  return n;
}

std::optional<partition_directory::placement> cluster_directory::locate(uint32_t partition) const {
  auto rec = members_.partition(partition);
  if (!rec) return std::nullopt;
  return placement{rec->owner(), rec->epoch()};
}

void cluster_directory::gather_turns(const trace_id& trace,
                                     std::function<void(std::vector<turn_row>)> done) {
  std::vector<caf::actor> peers;
  for (const auto& m : members_.members())
    if (m.node_id() != self_ && !m.cluster_address().empty())
      peers.push_back(link_to(m.node_id(), m.cluster_address()));
  if (peers.empty()) return done({});
  // One short-lived actor collects the answers; each link answers within ~1 s.
  sys_.spawn([peers, hex = trace.to_hex(), done = std::move(done)](caf::event_based_actor* self) {
    auto rows = std::make_shared<wire_turns>();
    auto left = std::make_shared<size_t>(peers.size());
    auto finish = [self, rows, left, done] {
      if (--*left > 0) return;
      done(std::move(*rows));
      self->quit();
    };
    for (const auto& peer : peers)
      self->request(peer, 2s, gather_atom::value, hex)
          .then(
              [rows, finish](wire_turns& turns) {
                for (auto& t : turns) rows->push_back(std::move(t));
                finish();
              },
              [finish](caf::error&) { finish(); });
  });
}

void cluster_directory::forward(const envelope_ptr& env, const std::string& owner, uint64_t epoch) {
  auto p = env->target.partition();
  if (env->hops >= max_hops)
    return fail_call(env,
                     "partition " + std::to_string(p) + " bounced between nodes " +
                         std::to_string(env->hops) + " times",
                     nullptr);
  if (forwarding_stopped_.load(std::memory_order_acquire))
    return fail_call(env, "node is stopping", nullptr);
  auto address = members_.cluster_address_of(owner);
  // Never reassigned: a partition whose owner is gone waits for it (no replicas yet).
  if (address.empty())
    return fail_call(env,
                     "partition " + std::to_string(p) + " of " + to_string(env->target) +
                         " is owned by node " + owner + ", which is down",
                     nullptr);
  wire_call call;
  call.target_type = env->target.type();
  call.target_key = env->target.key();
  call.message_type = env->message_type;
  call.payload = env->payload->SerializeAsString();  // the one serialization, at the boundary
  call.epoch = epoch;
  auto now = std::chrono::steady_clock::now();
  call.budget_ms =
      env->reply
          ? std::chrono::duration_cast<std::chrono::milliseconds>(env->reply->deadline() - now)
                .count()
          : 5000;
  if (env->trace.valid()) call.trace = env->trace.to_hex();
  call.caller = env->caller;
  call.hops = static_cast<uint8_t>(env->hops + 1);
  call.one_way = env->reply == nullptr;
  caf::anon_send(link_to(owner, address), forward_atom::value, env, std::move(call));
}

caf::actor cluster_directory::link_to(const std::string& node_id,
                                      const std::string& cluster_address) {
  std::lock_guard guard{links_mutex_};
  auto it = links_.find(node_id);
  // A restarted node comes back with a new address: a new link.
  if (it != links_.end() && it->second.first == cluster_address) return it->second.second;
  if (it != links_.end()) caf::anon_send(it->second.second, stop_atom::value);
  auto colon = cluster_address.rfind(':');
  auto handle = sys_.spawn(link, node_id, cluster_address.substr(0, colon),
                           static_cast<uint16_t>(std::stoi(cluster_address.substr(colon + 1))),
                           refused_fn{[this](const std::string& lost) { suspect(lost); }});
  links_[node_id] = {cluster_address, handle};
  return handle;
}

void cluster_directory::suspect(const std::string& node_id) {
  {
    std::lock_guard lock{held_mutex_};
    suspects_.push_back(node_id);
  }
  held_cv_.notify_one();
}

void cluster_directory::watch_members() {
  for (const auto& m : members_.members())
    if (m.node_id() != self_ && !m.cluster_address().empty())
      caf::anon_send(link_to(m.node_id(), m.cluster_address()), watch_atom::value);
}

bool cluster_directory::record_owned_partitions() {
  std::vector<store_write> batch;
  std::vector<std::pair<uint32_t, uint64_t>> added;
  for (const auto& [p, rec] : members_.partitions()) {
    if (rec.owner() != self_) continue;
    auto it = recorded_.find(p);
    if (it != recorded_.end() && it->second == rec.epoch()) continue;
    batch.push_back({partition_epoch_record(p), std::to_string(rec.epoch())});
    added.emplace_back(p, rec.epoch());
  }
  if (batch.empty()) return true;
  if (auto err = runtime_.store().write(batch)) {
    log_->warn("cluster: could not record owned partitions: {}", message_of(err));
    return false;
  }
  for (auto& [p, epoch] : added) recorded_[p] = epoch;
  return true;
}

void cluster_directory::placer_loop() {
  auto next_watch = std::chrono::steady_clock::now();
  while (true) {
    std::deque<envelope_ptr> waiting;
    std::vector<std::string> suspects;
    {
      std::unique_lock lock{held_mutex_};
      held_cv_.wait_until(lock, next_watch,
                          [this] { return stopping_ || !held_.empty() || !suspects_.empty(); });
      if (stopping_) return;
      suspects.swap(suspects_);
      waiting.swap(held_);
    }
    // Every member gets a link that stays connected, so that a death is seen at once.
    if (std::chrono::steady_clock::now() >= next_watch) {
      watch_members();
      // Also those other nodes placed here; the table is copied only when the watch moved.
      if (auto revision = members_.revision();
          revision != recorded_revision_ && record_owned_partitions())
        recorded_revision_ = revision;
      next_watch = std::chrono::steady_clock::now() + 200ms;
    }
    for (const auto& node_id : suspects) {
      // Only the coordinator acts, and only on a refused reconnect: one slow link or a
      // hung peer (whose port still accepts) never gets a live node declared down.
      if (!members_.is_coordinator()) continue;
      if (auto err = members_.declare_down(node_id))
        log_->warn("cluster: could not declare {} down: {}", node_id, message_of(err));
    }
    if (waiting.empty()) continue;
    // Everything that waited is placed together: one etcd transaction per 60 partitions.
    std::vector<uint32_t> partitions;
    for (const auto& env : waiting) partitions.push_back(env->target.partition());
    auto err = members_.place(partitions);
    // Recorded before the first turn runs on them.
    record_owned_partitions();
    for (auto& env : waiting) {
      if (members_.partition(env->target.partition())) {
        runtime_.router().redeliver(std::move(env));
      } else if (env->reply) {
        env->reply->complete(
            err ? err
                : make_error(errc::unavailable, "partition " +
                                                    std::to_string(env->target.partition()) +
                                                    " could not be placed"));
      }
    }
  }
}

void cluster_directory::stop() {
  forwarding_stopped_.store(true, std::memory_order_release);
  {
    std::lock_guard lock{held_mutex_};
    if (stopping_) return;
    stopping_ = true;
  }
  held_cv_.notify_all();
  if (rebalancer_) rebalancer_->stop();
  if (placer_.joinable()) placer_.join();
  if (handoff_) handoff_->stop();
  for (auto& env : held_) fail_call(env, "node is stopping", nullptr);
  held_.clear();
  std::map<uint32_t, std::deque<envelope_ptr>> moving;
  {
    std::lock_guard lock{moving_mutex_};
    moving.swap(moving_held_);
    moving_held_count_ = 0;
  }
  for (auto& [p, envs] : moving)
    for (auto& env : envs) fail_call(env, "node is stopping", nullptr);
  std::lock_guard guard{links_mutex_};
  for (auto& [id, link] : links_) caf::anon_send(link.second, stop_atom::value);
  links_.clear();
  caf::anon_send(endpoint_, stop_atom::value);
}

}  // namespace keel::cluster
