// rideshare-sim against a real keel-node: a node given by a bracketed IPv6 address, over
// plaintext and TLS; and the checks when the node's answers to their reads are lost on the
// way (a proxy drops them), which leaves rides not judged instead of failing them.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
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

// In front of a node: passes every request but the processor's GetLedger reads it is told
// to drop, on which it closes the connection unanswered, as a lost link would. Requests are
// framed by their head and Content-Length, so a read split over two segments is still
// recognised.
// Thread safety: the constructor, dropped() and the destructor from the test's thread; the
// rest runs on the proxy's own threads.
class ledger_dropping_proxy {
 public:
  enum class drop {
    every_ledger_read,
    first_payments_ledger_reads,  // those of the payment whose ledger is read first
  };

  ledger_dropping_proxy(int node_port, drop which) : node_port_(node_port), which_(which) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("ledger_dropping_proxy: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread{[this] { accept_loop(); }};
  }

  ~ledger_dropping_proxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard guard{mutex_};
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int fd : fds_) ::close(fd);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int dropped() const { return dropped_.load(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      int node = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(node_port_));
      if (::connect(node, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(node);
        continue;
      }
      std::lock_guard guard{mutex_};
      fds_.push_back(client);
      fds_.push_back(node);
      threads_.emplace_back([this, client, node] { forward_requests(client, node); });
      threads_.emplace_back([client, node] { forward_bytes(node, client); });
    }
  }

  static bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
      auto n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  static void forward_bytes(int from, int to) {
    char buf[16384];
    for (;;) {
      auto n = ::read(from, buf, sizeof buf);
      if (n <= 0 || !write_all(to, buf, static_cast<size_t>(n))) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  // The sim's requests only: "Content-Length: N" is how it writes the header.
  static size_t content_length(std::string_view head) {
    static constexpr std::string_view name = "\r\nContent-Length: ";
    auto at = head.find(name);
    return at == std::string_view::npos ? 0
                                        : std::stoul(std::string{head.substr(at + name.size())});
  }

  bool should_drop(std::string_view path) {
    static constexpr std::string_view prefix = "/v1/actors/processor/";
    static constexpr std::string_view suffix = "/GetLedger";
    if (!path.starts_with(prefix) || !path.ends_with(suffix)) return false;
    if (which_ == drop::every_ledger_read) return true;
    auto payment =
        std::string{path.substr(prefix.size(), path.size() - prefix.size() - suffix.size())};
    std::lock_guard guard{mutex_};
    if (first_payment_.empty()) first_payment_ = payment;
    return payment == first_payment_;
  }

  void forward_requests(int client, int node) {
    std::string pending;
    char buf[16384];
    for (;;) {
      auto n = ::read(client, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      for (;;) {
        auto head_end = pending.find("\r\n\r\n");
        if (head_end == std::string::npos) break;
        std::string_view head{pending.data(), head_end};
        auto size = head_end + 4 + content_length(head);
        if (pending.size() < size) break;
        auto path_start = head.find(' ') + 1;
        auto path = head.substr(path_start, head.find(' ', path_start) - path_start);
        if (should_drop(path)) {
          dropped_.fetch_add(1);
          ::shutdown(client, SHUT_RDWR);
          ::shutdown(node, SHUT_RDWR);
          return;
        }
        if (!write_all(node, pending.data(), size)) break;
        pending.erase(0, size);
      }
    }
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(node, SHUT_RDWR);
  }

  const int node_port_;
  const drop which_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> dropped_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> fds_;              // guarded by mutex_
  std::vector<std::thread> threads_;  // guarded by mutex_
  std::string first_payment_;         // guarded by mutex_
};

// Every ledger read is lost: no ride can be judged, which fails the run, but no invariant
// is reported broken; each read was tried three times.
TEST(RideshareSim, NoRideJudgedWhenEveryLedgerReadIsLostFailsTheRunWithoutAViolation) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  ledger_dropping_proxy proxy{node.port(), ledger_dropping_proxy::drop::every_ledger_read};
  std::string out;
  ASSERT_EQ(run_to_exit(RIDESHARE_SIM_BINARY, sim_flags(proxy.address(), 30), out), 1)
      << out << "\n--- node:\n"
      << node.log();
  EXPECT_NE(out.find(R"("rides_finished":30,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("rides_judged":0,"rides_not_judged":30,)"
                     R"("not_judged_why":{"ledger read: transport Read":30})"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"({"name":"rides judged","pass":false,"detail":"none of 30 rides judged: )"
                     R"(the node did not answer their reads after 3 tries )"
                     R"j((ledger read: transport Read: 30)"}]})j"),
            std::string::npos)
      << out;
  // The run's verdict and "rides judged" are the only failures: nothing was judged broken.
  size_t failures = 0;
  for (auto at = out.find(R"("pass":false)"); at != std::string::npos;
       at = out.find(R"("pass":false)", at + 1))
    ++failures;
  EXPECT_EQ(failures, 2u) << out;
  EXPECT_EQ(proxy.dropped(), 90) << "30 ledger reads, three tries each";
}

// One ride's ledger reads are lost out of 150: that ride is reported not judged, within the
// share allowed, and the run passes on the rest.
TEST(RideshareSim, OneRideNotJudgedOutOfManyIsReportedAndTheRunPasses) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  ledger_dropping_proxy proxy{node.port(),
                              ledger_dropping_proxy::drop::first_payments_ledger_reads};
  std::string out;
  ASSERT_EQ(run_to_exit(RIDESHARE_SIM_BINARY, sim_flags(proxy.address(), 150), out), 0)
      << out << "\n--- node:\n"
      << node.log();
  EXPECT_NE(out.find(R"("rides_finished":150,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("rides_judged":149,"rides_not_judged":1,)"
                     R"("not_judged_why":{"ledger read: transport Read":1})"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"({"name":"rides judged","pass":true,"detail":"1 of 150 rides not judged, )"
                     R"(within the 1 % allowed: the node did not answer their reads after 3 )"
                     R"j(tries (ledger read: transport Read: 1)"}]})j"),
            std::string::npos)
      << out;
  EXPECT_EQ(proxy.dropped(), 3) << "one ride's ledger read, three tries";
}

}  // namespace
}  // namespace keel::test
