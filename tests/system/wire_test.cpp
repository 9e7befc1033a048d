// What a node takes from another over CAF: a peer's calls are checked as the gateway checks
// a client's. The peer here is the test itself, speaking the wire types to a real node.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include "cluster_fixture.hpp"
#include "keel/cluster/wire.hpp"
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
  caf::actor_system_config cfg;
  cluster::configure_cluster_transport(cfg);
  caf::actor_system sys{cfg};

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

}  // namespace
}  // namespace keel::test
