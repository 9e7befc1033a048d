// Mutual TLS between nodes: nodes whose certificates the cluster's CA signed call each
// other; a peer without such a certificate (another CA's, none, or plaintext) can neither
// call a node nor join the cluster, and is told why.
#include <csignal>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "cluster_fixture.hpp"
#include "keel/test/test_certs.hpp"
#include "wire_peer.hpp"

namespace keel::test {
namespace {

class TlsCluster : public Cluster {
 protected:
  TlsCluster() {
    // This process is a TLS peer too: CAF's openssl sessions write with write(), and a node
    // that refuses them closes its end.
    std::signal(SIGPIPE, SIG_IGN);
    certs_.make_ca("ca");
    for (auto name : {"n1", "n2", "peer"}) certs_.issue("ca", name);
    certs_.make_ca("other-ca");
    certs_.issue("other-ca", "rogue");
  }

  // The cluster TLS flags of a node showing certificate `name` and trusting CA `ca`.
  std::vector<std::string> tls_flags(const std::string& name, const std::string& ca = "ca") {
    return {"--cluster-tls-cert=" + certs_.cert(name), "--cluster-tls-key=" + certs_.key(name),
            "--cluster-tls-ca=" + certs_.cert(ca)};
  }

  static std::string cluster_address(node_process& node, const std::string& id) {
    auto v = view(node);  // a loop over view(node).members() would outlive the view
    for (const auto& m : v.members())
      if (m.node_id() == id) return m.cluster_address();
    return {};
  }

  test_certs certs_{dir_.path()};
};

TEST_F(TlsCluster, NodesWhoseCertificatesTheClusterCaSignedCallEachOther) {
  auto& n1 = start_node("n1", tls_flags("n1"));
  auto& n2 = start_node("n2", tls_flags("n2"));
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s)) << n1.log();
  // Increments through n1 of counters n2 owns: each a call from n1 to n2 over TLS.
  auto key = counter_owned_by(n1, "n2", "mtls-");
  ASSERT_FALSE(key.empty()) << "no counter placed on n2 answered through n1; n1's log:\n"
                            << n1.log();
  EXPECT_EQ(n1.post("/v1/actors/counter/" + key + "/Increment", R"({"by":1})").body,
            counter_body(2));
  EXPECT_EQ(n2.post("/v1/actors/counter/" + key + "/Get", "").body, counter_body(2));
}

TEST_F(TlsCluster, LeavingNodeHandsItsPartitionsOverWithMutualTls) {
  auto& n1 = start_node("n1", tls_flags("n1"));
  auto& n2 = start_node("n2", tls_flags("n2"));
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s)) << n1.log();
  auto key = counter_owned_by(n1, "n2", "leave-");
  ASSERT_FALSE(key.empty()) << "n1:\n" << n1.log() << "\nn2:\n" << n2.log();
  EXPECT_EQ(n2.stop(SIGTERM), 0) << n2.log();
  EXPECT_EQ(n1.post("/v1/actors/counter/" + key + "/Get", "").body, counter_body(1)) << n1.log();
}

// What a peer process gets when it dials `address` with these transport settings: the
// reply to one increment of counter `key`, or why it could not connect.
cluster::wire_reply increment_as_peer(const cluster::cluster_tls& tls, const std::string& address,
                                      const std::string& key) {
  caf::actor_system_config cfg;
  cluster::configure_cluster_transport(cfg, tls);
  caf::actor_system sys{cfg};
  auto [host, port] = split_address(address);
  auto dial = [&, host = host, port = port] {
    return tls.enabled() ? caf::openssl::remote_actor(sys, host, port)
                         : sys.middleman().remote_actor(host, port);
  };
  // CAF 0.17's BASP broker starts a dial's last-seen time at the clock's epoch, so its first
  // heartbeat tick (every 200 ms) fails a dial still in its TLS handshake with
  // connection_timeout, long before the 2 s limit. peer_link retries such a dial; so does
  // this peer. A refusal is another error.
  auto endpoint = dial();
  for (int i = 0; i < 3 && !endpoint && endpoint.error() == caf::sec::connection_timeout; ++i)
    endpoint = dial();
  if (!endpoint)
    return cluster::failed_reply(errc::unavailable, "refused: " + caf::to_string(endpoint.error()));
  return increment_over_the_wire(sys, *endpoint, key);
}

TEST_F(TlsCluster, PeerWithoutACertificateTheClusterCaSignedCannotCallANode) {
  auto& n1 = start_node("n1", tls_flags("n1"));
  auto address = cluster_address(n1, "n1");
  ASSERT_FALSE(address.empty());
  auto identity = [&](const std::string& name, const std::string& ca) {
    return cluster::cluster_tls{{certs_.cert(name), certs_.key(name)}, certs_.cert(ca)};
  };
  struct refused_peer {
    std::string name;
    cluster::cluster_tls tls;
  };
  const std::vector<refused_peer> refused{
      {"another CA's certificate, trusting that CA", identity("rogue", "other-ca")},
      {"another CA's certificate, trusting the cluster's", identity("rogue", "ca")},
      {"plaintext", {}},
  };
  for (const auto& peer : refused) {
    auto reply = increment_as_peer(peer.tls, address, "guarded");
    EXPECT_EQ(reply.code, static_cast<uint8_t>(errc::unavailable))
        << peer.name << ": the node answered: " << reply.error;
  }
  auto admitted = increment_as_peer(identity("peer", "ca"), address, "guarded");
  EXPECT_EQ(admitted.code, 0) << "a peer the cluster's CA signed: " << admitted.error;
  // Only the admitted peer's increment ran.
  EXPECT_EQ(n1.post("/v1/actors/counter/guarded/Get", "").body, counter_body(1));
}

TEST_F(TlsCluster, NodeThatCouldNotTalkToTheOthersIsRefusedBeforeJoining) {
  auto& n1 = start_node("n1", tls_flags("n1"));
  struct refused_node {
    std::string name;
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<refused_node> cases{
      {"another CA's certificate", tls_flags("rogue", "other-ca"),
       "is not signed by cluster 'keel''s CA"},
      {"the cluster's certificate, another CA", tls_flags("n2", "other-ca"),
       "does not hold cluster 'keel''s CA"},
      {"plaintext", {}, "requires mutual TLS between nodes"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    std::vector<std::string> args{"--node-id=n2", "--etcd=" + etcd_->endpoint(), "--cluster-port=0",
                                  "--http-port=0",
                                  "--data-dir=" + dir_.sub("refused-" + std::to_string(i))};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    std::string out;
    EXPECT_EQ(run_node_to_exit(args, out), 1) << c.name << ": " << out;
    EXPECT_NE(out.find(c.says), std::string::npos)
        << c.name << ": the message does not say '" << c.says << "': " << out;
  }
  EXPECT_EQ(member_ids(n1), std::set<std::string>{"n1"});
  // The other way round: a cluster whose first node had no TLS takes no TLS node.
  start_node("p1", {"--cluster-name=plain"});
  std::string out;
  auto args = tls_flags("n2");
  args.insert(args.end(), {"--node-id=p2", "--etcd=" + etcd_->endpoint(), "--cluster-port=0",
                           "--cluster-name=plain", "--data-dir=" + dir_.sub("p2")});
  EXPECT_EQ(run_node_to_exit(args, out), 1) << out;
  EXPECT_NE(out.find("runs plaintext between nodes"), std::string::npos) << out;
}

}  // namespace
}  // namespace keel::test
