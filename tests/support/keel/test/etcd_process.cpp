#include "keel/test/etcd_process.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <httplib.h>

#include "keel/test/node_process.hpp"

namespace keel::test {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

etcd_process::etcd_process(const std::string& dir, etcd_tls_files tls)
    : tls_(std::move(tls)), log_path_(dir + "/etcd.log") {
  // A port free a moment ago may be taken by the time etcd binds it (another process's
  // outgoing connection got it): then etcd exits at once, and a fresh pair of ports and a
  // fresh data dir are tried.
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt)
    if (start(dir + "/etcd-data" + (attempt ? "-" + std::to_string(attempt) : ""), why)) return;
  throw std::runtime_error(why);
}

bool etcd_process::start(const std::string& data_dir, std::string& why) {
  client_port_ = free_port();
  int peer_port = free_port();
  bool tls = !tls_.cert.empty();
  auto client = (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
  auto peer = "http://127.0.0.1:" + std::to_string(peer_port);
  std::vector<std::string> args{"--name=test",
                                "--data-dir=" + data_dir,
                                "--listen-client-urls=" + client,
                                "--advertise-client-urls=" + client,
                                "--listen-peer-urls=" + peer,
                                "--initial-advertise-peer-urls=" + peer,
                                "--initial-cluster=test=" + peer,
                                "--log-level=warn"};
  if (tls)
    args.insert(args.end(), {"--cert-file=" + tls_.cert, "--key-file=" + tls_.key,
                             "--client-cert-auth", "--trusted-ca-file=" + tls_.client_ca});
  pid_ = spawn_process("/usr/bin/etcd", args, {}, log_path_, log_path_ + ".err");
  httplib::Client cli = tls ? httplib::Client{client, tls_.probe_cert, tls_.probe_key}
                            : httplib::Client{"127.0.0.1", client_port_};
  if (tls) cli.set_ca_cert_path(tls_.client_ca);
  cli.set_connection_timeout(std::chrono::milliseconds{200});
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{15};
  while (std::chrono::steady_clock::now() < give_up) {
    auto res = cli.Get("/health");
    if (res && res->status == 200 && res->body.find("true") != std::string::npos) return true;
    if (wait_process_exit(pid_, std::chrono::milliseconds{50}) >= 0) {
      pid_ = -1;
      std::ifstream in{log_path_ + ".err"};
      std::stringstream ss;
      ss << in.rdbuf();
      why = "etcd exited during start-up: " + ss.str();
      return false;
    }
  }
  throw std::runtime_error("etcd was not healthy within 15 s on port " +
                           std::to_string(client_port_));
}

etcd_process::~etcd_process() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  wait_process_exit(pid_, std::chrono::seconds{5});
}

std::string etcd_process::endpoint() const {
  return "127.0.0.1:" + std::to_string(client_port_);
}

void etcd_process::signal(int sig) const {
  kill(pid_, sig);
}

}  // namespace keel::test
