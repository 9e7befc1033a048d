#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "keel/cluster/etcd_client.hpp"

namespace keel::bench {

/// A child server process whose stdout prints "... listening http=HOST:PORT" (keel-node,
/// bare-http-server and keel-bench's own --child modes), or "listening https=HOST:PORT
/// http=HOST:PORT" (keel-node with --tls-cert and --http-plaintext-port). SIGTERMed and
/// reaped on destruction.
/// Thread safety: externally synchronized.
class server_process {
 public:
  server_process(const std::string& binary, const std::vector<std::string>& args) {
    char pattern[] = "/tmp/keel-bench-srv-XXXXXX";
    dir_ = mkdtemp(pattern);
    auto out = dir_ + "/out";
    pid_ = fork();
    if (pid_ == 0) {
      freopen(out.c_str(), "w", stdout);
      freopen((dir_ + "/err").c_str(), "w", stderr);
      std::vector<std::string> copy = args;
      std::vector<char*> argv{const_cast<char*>(binary.c_str())};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    static const std::regex listening{R"(listening (https=[^:]+:(\d+) )?http=[^:]+:(\d+))"};
    for (int i = 0; i < 1000; ++i) {
      std::ifstream in{out};
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      auto text = ss.str();
      if (std::regex_search(text, m, listening)) {
        if (m[2].matched) tls_port_ = std::stoi(m[2]);
        port_ = std::stoi(m[3]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    throw std::runtime_error("no listening line from " + binary);
  }
  ~server_process() {
    if (pid_ > 0) kill(pid_, SIGTERM);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    std::system(("rm -rf " + dir_).c_str());
  }
  /// SIGKILL now: a cluster member would otherwise leave gracefully, moving its actors.
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }
  int tls_port() const { return tls_port_; }  // 0: no https= port
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int tls_port_ = 0;
};

/// A fresh directory under /tmp.
inline std::string scratch() {
  char pattern[] = "/tmp/keel-bench-cluster-XXXXXX";
  return mkdtemp(pattern);
}

/// A CA and one certificate it signed ("node", for 127.0.0.1, serving and client use),
/// made by the openssl CLI in a scratch directory, removed on destruction: what the TLS rows
/// run with. It must outlive every process and actor system using the files: CAF's
/// openssl module reads them again for each new connection (and throws if they are gone).
struct bench_certs {
  std::string dir = scratch();
  std::string ca = dir + "/ca.crt", cert = dir + "/node.crt", key = dir + "/node.key";
  bench_certs() {
    std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    auto script = "cd " + dir + " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext && " +
                  "openssl req -x509" + ec + "-keyout ca.key -out ca.crt -days 2 -subj /CN=ca && " +
                  "openssl req" + ec + "-keyout node.key -out node.csr -subj /CN=node && " +
                  "openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial " +
                  "-out node.crt -days 2 -extfile ext";
    if (std::system(("(" + script + ") >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("openssl could not make the TLS rows' certificates in " + dir);
  }
  ~bench_certs() { std::system(("rm -rf " + dir).c_str()); }
  bench_certs(const bench_certs&) = delete;
  bench_certs& operator=(const bench_certs&) = delete;
};

inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

/// etcd on free loopback ports, killed on destruction.
struct etcd_child {
  std::string dir = scratch();
  int port = free_port();
  pid_t pid = -1;
  etcd_child() {
    int peer = free_port();
    auto client = "http://127.0.0.1:" + std::to_string(port);
    auto peer_url = "http://127.0.0.1:" + std::to_string(peer);
    pid = fork();
    if (pid == 0) {
      freopen((dir + "/etcd.log").c_str(), "w", stdout);
      freopen((dir + "/etcd.log").c_str(), "a", stderr);
      execl("/usr/bin/etcd", "etcd", "--name=bench", ("--data-dir=" + dir + "/data").c_str(),
            ("--listen-client-urls=" + client).c_str(),
            ("--advertise-client-urls=" + client).c_str(),
            ("--listen-peer-urls=" + peer_url).c_str(),
            ("--initial-advertise-peer-urls=" + peer_url).c_str(),
            ("--initial-cluster=bench=" + peer_url).c_str(), "--log-level=warn", nullptr);
      _exit(127);
    }
    cluster::etcd_client probe{endpoint(), std::chrono::milliseconds{200}};
    for (int i = 0; i < 150; ++i) {
      if (probe.get_prefix("keel/")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    throw std::runtime_error("etcd did not start (is etcd-server installed?)");
  }
  ~etcd_child() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    std::system(("rm -rf " + dir).c_str());
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port); }
};

}  // namespace keel::bench
