// etcd over TLS with client certificates: a node showing a certificate etcd's CA signed
// joins and serves; one without it, with another CA's, trusting the wrong CA or speaking
// plaintext is refused and stops, saying why.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "keel/test/etcd_process.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"
#include "keel/test/test_certs.hpp"

namespace keel::test {
namespace {

struct TlsEtcd : ::testing::Test {
  temp_dir dir;
  test_certs certs{dir.path()};
  std::unique_ptr<etcd_process> etcd;
  void SetUp() override {
    certs.make_ca("ca");
    certs.issue("ca", "etcd");
    certs.issue("ca", "node");
    certs.make_ca("other-ca");
    certs.issue("other-ca", "stranger");
    etcd = std::make_unique<etcd_process>(
        dir.path(), etcd_tls_files{certs.cert("etcd"), certs.key("etcd"), certs.cert("ca"),
                                   certs.cert("node"), certs.key("node")});
  }
  std::vector<std::string> cluster_flags(const std::string& id) const {
    return {"--node-id=" + id, "--etcd=" + etcd->endpoint(), "--cluster-port=0"};
  }
};

TEST_F(TlsEtcd, NodeShowingACertificateEtcdTrustsJoinsAndServes) {
  auto args = cluster_flags("n1");
  args.insert(args.end(), {"--etcd-ca=" + certs.cert("ca"), "--etcd-cert=" + certs.cert("node"),
                           "--etcd-key=" + certs.key("node")});
  node_process node{dir.sub("n1"), args};
  auto cluster = node.get("/v1/cluster");
  EXPECT_EQ(cluster.status, 200);
  EXPECT_NE(cluster.body.find(R"("nodeId":"n1")"), std::string::npos) << cluster.body;
  // A first call places its partition: a transaction in etcd, over TLS.
  auto reply = node.post("/v1/actors/counter/over-tls/Increment", R"({"by":1})");
  EXPECT_EQ(reply.status, 200) << reply.body << "\nlog:\n" << node.log();
  EXPECT_EQ(reply.body, R"({"value":"1"})");
  // A graceful stop breaks the watch and deregisters, over TLS as well.
  EXPECT_EQ(node.stop(SIGTERM), 0) << node.log();
}

// Each case: the node's TLS flags for etcd, and what its message must say.
struct refused_case {
  std::string name;
  std::vector<std::string> flags;
  std::string says;
};

TEST_F(TlsEtcd, NodeWithoutACertificateEtcdTrustsIsRefusedAndStops) {
  const std::vector<refused_case> cases{
      {"no client certificate", {"--etcd-ca=" + certs.cert("ca")}, "client certificate"},
      {"another CA's client certificate",
       {"--etcd-ca=" + certs.cert("ca"), "--etcd-cert=" + certs.cert("stranger"),
        "--etcd-key=" + certs.key("stranger")},
       "client certificate"},
      {"trusting a CA that did not sign etcd's certificate",
       {"--etcd-ca=" + certs.cert("other-ca"), "--etcd-cert=" + certs.cert("node"),
        "--etcd-key=" + certs.key("node")},
       "not signed by the CA"},
      {"plaintext to a TLS port", {}, "etcd at " + etcd->endpoint()},
  };
  for (const auto& c : cases) {
    auto args = cluster_flags("refused");
    args.push_back("--data-dir=" + dir.sub("refused"));
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    std::string out;
    EXPECT_EQ(run_node_to_exit(args, out), 1) << c.name << ": " << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << c.name << ": the node started: " << out;
    EXPECT_NE(out.find(c.says), std::string::npos)
        << c.name << ": the message does not say '" << c.says << "': " << out;
  }
}

}  // namespace
}  // namespace keel::test
