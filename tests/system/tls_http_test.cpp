// The HTTP API over TLS: keep-alive on one connection, no plaintext unless asked for, the
// same routes on both ports, and bad certificate flags stopping the node before it starts.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "keel/test/node_process.hpp"
#include "keel/test/raw_http.hpp"
#include "keel/test/temp_dir.hpp"
#include "keel/test/test_certs.hpp"
#include "keel/test/tls_client.hpp"

namespace keel::test {
namespace {

// A CA, a node certificate it signed, and a CA that signed nothing the node shows.
struct TlsHttp : ::testing::Test {
  temp_dir dir;
  test_certs certs{dir.path()};
  void SetUp() override {
    certs.make_ca("ca");
    certs.issue("ca", "node");
    certs.make_ca("other-ca");
  }
  std::vector<std::string> tls_flags() const {
    return {"--tls-cert=" + certs.cert("node"), "--tls-key=" + certs.key("node")};
  }
};

std::string increment(const std::string& key) {
  return "POST /v1/actors/counter/" + key +
         "/Increment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Content-Length: 8\r\n\r\n{\"by\":1}";
}

std::string value_body(int n) {
  return R"({"value":")" + std::to_string(n) + R"("})";
}

TEST_F(TlsHttp, OneTlsConnectionCarriesEveryRequestWithKeepAlive) {
  node_process node{dir.sub("data"), tls_flags()};
  ASSERT_GT(node.tls_port(), 0);
  tls_connection conn{node.tls_port(), certs.cert("ca")};
  for (int i = 1; i <= 5; ++i) {
    auto res = conn.exchange(increment("tls-keepalive"));
    ASSERT_TRUE(res) << "request " << i << ": the TLS connection ended; log:\n" << node.log();
    EXPECT_EQ(res->status, 200) << "request " << i;
    EXPECT_EQ(res->body, value_body(i)) << "request " << i;
    EXPECT_NE(res->headers["connection"], "close") << "request " << i;
  }
  auto health = conn.exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// keelctl speaks TLS to a node that serves only TLS: with the CA that signed the node's
// certificate it reads a trace; with another CA, or in plaintext, it fails naming why.
TEST_F(TlsHttp, KeelctlReadsATlsNodeWhoseCertificateTheGivenCaSigned) {
  node_process node{dir.sub("data"), tls_flags()};
  ASSERT_GT(node.tls_port(), 0);
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4739";
  tls_connection conn{node.tls_port(), certs.cert("ca")};
  auto res = conn.exchange(
      "POST /v1/actors/counter/k/Increment HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "traceparent: 00-" +
      trace +
      "-00f067aa0ba902b7-01\r\nContent-Type: application/json\r\nContent-Length: "
      "8\r\n\r\n{\"by\":1}");
  ASSERT_TRUE(res) << node.log();
  ASSERT_EQ(res->status, 200);
  auto port = std::to_string(node.tls_port());
  std::string out;
  EXPECT_EQ(
      run_to_exit(KEELCTL_BINARY,
                  {"--node=https://127.0.0.1:" + port, "--ca=" + certs.cert("ca"), "trace", trace},
                  out),
      0)
      << out;
  EXPECT_NE(out.find("trace " + trace + ": 1 turns on 1 node(s)\ncounter/k Increment (from http)"),
            std::string::npos)
      << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY,
                        {"--node=https://127.0.0.1:" + port, "--ca=" + certs.cert("other-ca"),
                         "trace", trace},
                        out),
            1);
  EXPECT_NE(out.find("not signed by the CA given (--ca)"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit(KEELCTL_BINARY, {"--node=127.0.0.1:" + port, "trace", trace}, out), 1);
  EXPECT_NE(out.find("cannot reach keel-node at 127.0.0.1:" + port), std::string::npos) << out;
}

// The showcase over TLS: rideshare-sim runs its rides against a node that serves only
// TLS, checking the node's certificate; with another CA it refuses the node, naming why.
TEST_F(TlsHttp, RideshareSimRunsItsRidesOverHttps) {
  node_process node{dir.sub("data"), tls_flags()};
  ASSERT_GT(node.tls_port(), 0);
  auto https = "--node=https://127.0.0.1:" + std::to_string(node.tls_port());
  std::string out;
  ASSERT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        {https, "--ca=" + certs.cert("ca"), "--rides=100", "--concurrency=4",
                         "--drivers=50", "--json"},
                        out),
            0)
      << out << "\n--- node:\n"
      << node.log();
  EXPECT_NE(out.find(R"("rides_finished":100)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("pass":true)"), std::string::npos) << out;

  EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        {https, "--ca=" + certs.cert("other-ca"), "--rides=1"}, out),
            2);
  EXPECT_NE(out.find("TLS handshake with 127.0.0.1: certificate verify failed"), std::string::npos)
      << out;
  EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        {https, "--ca=" + dir.sub("missing.pem"), "--rides=1"}, out),
            2);
  EXPECT_NE(out.find("cannot use TLS: --ca " + dir.sub("missing.pem")), std::string::npos) << out;
}

TEST_F(TlsHttp, PlaintextIsRefusedOnTheTlsPortAndNoPlaintextPortIsOpen) {
  node_process node{dir.sub("data"), tls_flags()};
  ASSERT_GT(node.tls_port(), 0);
  EXPECT_EQ(node.port(), 0) << "the node printed a plaintext http= port without "
                               "--http-plaintext-port";
  raw_connection plain{node.tls_port()};
  ASSERT_TRUE(plain.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_FALSE(plain.read_response(false, std::chrono::seconds{5}).has_value())
      << "the TLS port answered plaintext HTTP";
  // A client that trusts another CA cannot be fooled by the node's certificate.
  EXPECT_THROW((tls_connection{node.tls_port(), certs.cert("other-ca")}), std::runtime_error);
}

TEST_F(TlsHttp, PlaintextPortServesTheSameRoutesAndStateAsTheTlsPort) {
  auto flags = tls_flags();
  flags.push_back("--http-plaintext-port=0");
  node_process node{dir.sub("data"), flags};
  ASSERT_GT(node.tls_port(), 0);
  ASSERT_GT(node.port(), 0) << "no http= port in the listening line";
  ASSERT_NE(node.port(), node.tls_port());
  tls_connection conn{node.tls_port(), certs.cert("ca")};
  auto over_tls = conn.exchange(increment("both"));
  ASSERT_TRUE(over_tls);
  EXPECT_EQ(over_tls->body, value_body(1));
  auto over_plaintext = node.post("/v1/actors/counter/both/Increment", R"({"by":1})");
  EXPECT_EQ(over_plaintext.status, 200);
  EXPECT_EQ(over_plaintext.body, value_body(2));
  auto again_over_tls = conn.exchange(increment("both"));
  ASSERT_TRUE(again_over_tls);
  EXPECT_EQ(again_over_tls->body, value_body(3));
}

// Each case: the flags, and what the message must say.
struct bad_flag_case {
  std::vector<std::string> args;
  std::vector<std::string> says;
};

TEST_F(TlsHttp, UnusableCertificateFlagsExitTwoNamingTheFlagAndTheFile) {
  certs.issue("ca", "expired", -1);
  certs.issue("other-ca", "stranger");
  auto missing = dir.sub("missing.crt");
  auto not_pem = dir.sub("not-pem.crt");
  std::ofstream{not_pem} << "this is not a certificate\n";
  const std::vector<bad_flag_case> cases{
      {{"--tls-cert=" + missing, "--tls-key=" + certs.key("node")},
       {"--tls-cert", missing, "No such file"}},
      {{"--tls-cert=" + certs.cert("node")}, {"--tls-cert needs --tls-key"}},
      {{"--tls-key=" + certs.key("node")}, {"--tls-key needs --tls-cert"}},
      {{"--tls-cert=" + certs.cert("node"), "--tls-key=" + certs.key("stranger")},
       {"--tls-cert/--tls-key", certs.key("stranger"), "does not belong", certs.cert("node")}},
      {{"--tls-cert=" + not_pem, "--tls-key=" + certs.key("node")},
       {not_pem, "no PEM certificate"}},
      {{"--tls-cert=" + certs.cert("node"), "--tls-key=" + certs.cert("node")},
       {certs.cert("node"), "no PEM private key"}},
      {{"--tls-cert=" + certs.cert("expired"), "--tls-key=" + certs.key("expired")},
       {certs.cert("expired"), "has expired"}},
      {{"--http-plaintext-port=9999"}, {"--http-plaintext-port needs --tls-cert"}},
      {{"--etcd-ca=" + certs.cert("ca")}, {"--etcd-ca", "need --etcd"}},
      {{"--etcd=127.0.0.1:1", "--etcd-cert=" + certs.cert("node")},
       {"--etcd-cert needs --etcd-key"}},
      {{"--etcd=127.0.0.1:1", "--etcd-ca=" + missing}, {"--etcd-ca", missing}},
      {{"--etcd=127.0.0.1:1", "--cluster-tls-cert=" + certs.cert("node")},
       {"--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together"}},
  };
  for (const auto& c : cases) {
    std::string out;
    auto args = c.args;
    args.push_back("--data-dir=" + dir.sub("never"));
    EXPECT_EQ(run_node_to_exit(args, out), 2) << args.front() << ": " << out;
    for (const auto& words : c.says)
      EXPECT_NE(out.find(words), std::string::npos)
          << args.front() << ": the message does not say '" << words << "': " << out;
  }
}

}  // namespace
}  // namespace keel::test
