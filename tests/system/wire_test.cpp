// What a node takes from another over CAF: a peer's calls are checked as the gateway checks
// a client's. The peer here is the test itself, speaking the wire types to a real node.
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include <functional>
#include <future>
#include <memory>

#include "cluster_fixture.hpp"
#include "keel/cluster/link_health.hpp"
#include "keel/cluster/peer_link.hpp"
#include "keel/cluster/wire.hpp"
#include "keel/runtime/envelope.hpp"
#include "wire_peer.hpp"

namespace keel::test {
namespace {

// Calls counter/<key> Increment{by: 1} on the endpoint at `address` as a peer node would.
cluster::wire_reply increment_at(caf::actor_system& sys, const std::string& address,
                                 const std::string& key) {
  auto [host, port] = split_address(address);
  auto endpoint = sys.middleman().remote_actor(host, port);
  if (!endpoint) return cluster::failed_reply(errc::unavailable, "cannot reach " + address);
  return increment_over_the_wire(sys, *endpoint, key);
}

// The gateway refuses such a key from a client; a peer (an older build, a damaged message)
// must not get it into a protobuf string either, where it would make records unreadable.
TEST_F(Cluster, ACallFromAPeerWithAnIllFormedKeyIsRefusedWithBadPayload) {
  auto& n1 = start_node("n1");
  auto address = cluster_address_of(view(n1), "n1");
  ASSERT_FALSE(address.empty());
  peer_system peer;
  auto& sys = peer.sys;

  auto good = increment_at(sys, address, "wire-ok");
  ASSERT_EQ(good.code, 0) << good.error;
  EXPECT_EQ(n1.post("/v1/actors/counter/wire-ok/Get", "").body, counter_body(1));
  for (std::string bad : {"\xc0\xaf", "k\xed\xa0\x80", "\xff"}) {
    auto reply = increment_at(sys, address, bad);
    EXPECT_EQ(reply.code, static_cast<uint8_t>(errc::bad_payload)) << reply.error;
    EXPECT_EQ(reply.error, "the target key from another node is not valid UTF-8");
  }
  EXPECT_EQ(n1.get("/healthz").status, 200);
}

// A batch whose ids do not match its calls cannot be answered: the node drops it whole,
// counts it, and answers the next batch from the same peer.
TEST_F(Cluster, ADamagedBatchFromAPeerIsDroppedAndCounted) {
  auto& n1 = start_node("n1");
  auto address = cluster_address_of(view(n1), "n1");
  ASSERT_FALSE(address.empty());
  peer_system peer;
  auto& sys = peer.sys;
  auto [host, port] = split_address(address);
  auto endpoint = sys.middleman().remote_actor(host, port);
  ASSERT_TRUE(endpoint) << caf::to_string(endpoint.error());

  caf::scoped_actor link{sys};
  link->send(*endpoint, cluster::wire_batch{{1, 2}, {increment_call("damaged")}});
  link->send(*endpoint,
             cluster::wire_batch{{7, 8}, {increment_call("whole"), increment_call("whole")}});
  // The two answers may come back in one wire_answers or in two.
  std::vector<uint64_t> ids;
  bool waiting = true;
  while (waiting && ids.size() < 2)
    link->receive(
        [&](cluster::wire_answers& a) {
          ASSERT_EQ(a.ids.size(), a.replies.size());
          ids.insert(ids.end(), a.ids.begin(), a.ids.end());
          for (const auto& r : a.replies) EXPECT_EQ(r.code, 0) << r.error;
        },
        caf::after(std::chrono::seconds{10}) >> [&] { waiting = false; });
  EXPECT_EQ(ids, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(n1.post("/v1/actors/counter/whole/Get", "").body, counter_body(2));
  EXPECT_EQ(n1.post("/v1/actors/counter/damaged/Get", "").body, counter_body(0));
  EXPECT_EQ(metric_value(n1.get("/metrics").body, "keel_cluster_wire_damaged_total"), 1u);
}

// A link takes the answers to its calls only from its peer's endpoint: answers another
// actor sends it are dropped and counted, and the call gets its real answer.
TEST_F(Cluster, ALinkTakesAnswersOnlyFromItsPeer) {
  auto& n1 = start_node("n1", {"--test-actors"});
  auto address = cluster_address_of(view(n1), "n1");
  ASSERT_FALSE(address.empty());
  peer_system peer;
  auto& sys = peer.sys;
  auto [host, port] = split_address(address);
  auto clock = std::make_shared<monotonic_clock>();
  counter dropped;
  auto health = std::make_shared<cluster::link_health>(clock->now());
  auto link = cluster::spawn_peer_link(
      sys, "n1", host, port, std::chrono::milliseconds{0}, [](const std::string&) {}, health, clock,
      spdlog::default_logger(), &dropped);
  // Stopped however the test ends: a live link would keep `sys` from shutting down.
  std::unique_ptr<void, std::function<void(void*)>> stop_link{
      &dropped, [&](void*) { caf::anon_send(link, cluster::stop_atom::value); }};

  std::promise<call_result> answered;
  auto env = make_call(actor_id{"slow", "spoofed"}, clock->now() + std::chrono::seconds{10},
                       [&answered](call_result r) { answered.set_value(std::move(r)); });
  builtin::Sleep sleep;
  sleep.set_ms(1000);
  cluster::wire_call call;
  call.target_type = "slow";
  call.target_key = "spoofed";
  call.message_type = "Sleep";
  call.payload = sleep.SerializeAsString();
  call.budget_ms = 10000;
  call.caller = "test";
  call.hops = 1;
  caf::anon_send(link, cluster::forward_atom::value, envelope_ptr{env}, std::move(call));
  // While the call sleeps on n1, another actor answers its id (the link's first) itself.
  builtin::Slept fake;
  fake.set_ms(7);
  cluster::wire_reply spoof{0, "keel.builtin.Slept", fake.SerializeAsString(), ""};
  caf::scoped_actor stranger{sys};
  // Connected: the call is pending on the link (its answer is a second away).
  ASSERT_TRUE(
      eventually([&] { return health->current() == cluster::link_health::state::connected; }, 5s));
  stranger->send(link, cluster::wire_answers{{0}, {spoof}});

  auto result = answered.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  auto r = result.get();
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(static_cast<const builtin::Slept&>(**r).ms(), 1000);
  EXPECT_EQ(dropped.value(), 1u);
}

}  // namespace
}  // namespace keel::test
