// rideshare-sim against a real keel-node given by a bracketed IPv6 address, over plaintext
// and TLS.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"
#include "keel/test/test_certs.hpp"

namespace keel::test {
namespace {

// Whether this host has an IPv6 loopback to bind (some containers have none).
bool have_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A certificate `name` signed by CA `ca` that names only ::1 (test_certs' leaves name
// 127.0.0.1 and localhost), made with the openssl CLI as test_certs makes its own.
void issue_for_ipv6_loopback(const temp_dir& dir, const test_certs& certs, const std::string& ca,
                             const std::string& name) {
  auto csr = dir.sub(name + ".csr");
  auto ext = dir.sub(name + ".ext");
  std::ofstream{ext} << "subjectAltName=IP:::1\nextendedKeyUsage=serverAuth\n";
  std::string out;
  ASSERT_EQ(run_to_exit("/usr/bin/openssl",
                        {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", certs.key(name), "-out", csr, "-subj", "/CN=" + name},
                        out),
            0)
      << out;
  ASSERT_EQ(
      run_to_exit("/usr/bin/openssl",
                  {"x509", "-req", "-in", csr, "-CA", certs.cert(ca), "-CAkey", certs.key(ca),
                   "-CAcreateserial", "-out", certs.cert(name), "-days", "30", "-extfile", ext},
                  out),
      0)
      << out;
}

// The sim's common flags for a short run: `rides` rides, all of which finish on a healthy
// node, and a JSON report.
std::vector<std::string> sim_flags(const std::string& node, int rides) {
  return {"--node=" + node, "--rides=" + std::to_string(rides), "--concurrency=4", "--drivers=20",
          "--json"};
}

TEST(RideshareSim, RunsItsRidesAgainstANodeGivenByABracketedIpv6Address) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "this host has no IPv6 loopback to bind ::1";
  temp_dir dir;
  // Bound to ::1 only: a sim that connected anywhere else would not reach it.
  node_process node{dir.sub("data"), {"--listen-host=::1"}};
  ASSERT_GT(node.port(), 0);
  std::string out;
  ASSERT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        sim_flags("http://[::1]:" + std::to_string(node.port()), 30), out),
            0)
      << out << "\n--- node:\n"
      << node.log();
  EXPECT_NE(out.find(R"("rides_finished":30)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("pass":true)"), std::string::npos) << out;
}

// An IP address is checked as one: a certificate that names ::1 passes, and one that names
// only 127.0.0.1 and localhost is refused for https://[::1], naming the mismatch.
TEST(RideshareSim, ChecksAnIpv6NodesCertificateAgainstItsAddress) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "this host has no IPv6 loopback to bind ::1";
  temp_dir dir;
  test_certs certs{dir.path()};
  certs.make_ca("ca");
  issue_for_ipv6_loopback(dir, certs, "ca", "v6");
  certs.issue("ca", "v4");
  std::string out;
  {
    node_process node{
        dir.sub("data-v6"),
        {"--listen-host=::1", "--tls-cert=" + certs.cert("v6"), "--tls-key=" + certs.key("v6")}};
    ASSERT_GT(node.tls_port(), 0);
    auto flags = sim_flags("https://[::1]:" + std::to_string(node.tls_port()), 30);
    flags.push_back("--ca=" + certs.cert("ca"));
    ASSERT_EQ(run_to_exit(RIDESHARE_SIM_BINARY, flags, out), 0) << out << "\n--- node:\n"
                                                                << node.log();
    EXPECT_NE(out.find(R"("rides_finished":30)"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("pass":true)"), std::string::npos) << out;
  }
  node_process node{
      dir.sub("data-v4"),
      {"--listen-host=::1", "--tls-cert=" + certs.cert("v4"), "--tls-key=" + certs.key("v4")}};
  ASSERT_GT(node.tls_port(), 0);
  EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY,
                        {"--node=https://[::1]:" + std::to_string(node.tls_port()),
                         "--ca=" + certs.cert("ca"), "--rides=1"},
                        out),
            2);
  EXPECT_NE(out.find("TLS handshake with ::1: certificate verify failed (IP address mismatch)"),
            std::string::npos)
      << out;
}

TEST(RideshareSim, MalformedNodeAddressesAreACommandLineError) {
  for (const std::string node :
       {"http://[::1:8080", "https://[]:8443", "[::1]:70000", "::1:8080"}) {
    std::string out;
    // 105: CLI11's exit status for a value an option does not accept.
    EXPECT_EQ(run_to_exit(RIDESHARE_SIM_BINARY, {"--node=" + node}, out), 105) << out;
    EXPECT_NE(out.find("--node: '" + node + "': "), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace keel::test
