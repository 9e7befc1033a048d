#include "etcd_child.hpp"

#include <filesystem>
#include <thread>

#include "http_probe.hpp"

namespace keel::chaos {

etcd_child::etcd_child(std::string binary, std::string work_dir, child_registry& registry)
    : binary_(std::move(binary)),
      work_dir_(std::move(work_dir)),
      log_path_(work_dir_ + "/etcd.log"),
      registry_(registry),
      client_port_(free_loopback_port()),
      peer_port_(free_loopback_port()) {}

std::string etcd_child::endpoint() const {
  return "127.0.0.1:" + std::to_string(client_port_);
}

step_status etcd_child::start() {
  // A port free a moment ago may be taken by the time etcd binds it; until etcd has served
  // once (and the nodes know its address), a failed start moves to fresh ports.
  auto st = start_once();
  for (int attempt = 1; !st.is_ok() && !served_ && attempt < 3; ++attempt) {
    client_port_ = free_loopback_port();
    peer_port_ = free_loopback_port();
    std::error_code ignored;  // what the failed start bootstrapped names the old ports
    std::filesystem::remove_all(work_dir_ + "/etcd", ignored);
    st = start_once();
  }
  served_ = served_ || st.is_ok();
  return st;
}

step_status etcd_child::start_once() {
  auto client = "http://127.0.0.1:" + std::to_string(client_port_);
  auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  child_spec spec{binary_,
                  {"--name=chaos", "--data-dir=" + work_dir_ + "/etcd",
                   "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                   "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                   "--initial-cluster=chaos=" + peer, "--log-level=warn"},
                  work_dir_ + "/etcd.out",
                  log_path_};
  proc_ = std::make_unique<child_process>(spec, registry_);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{15};
  while (std::chrono::steady_clock::now() < give_up) {
    auto reply = http_get(client_port_, "/health", std::chrono::milliseconds{300});
    if (reply.status == 200 && reply.body.find("true") != std::string::npos)
      return step_status::ok();
    if (auto st = proc_->poll_exit()) {
      proc_.reset();
      return step_status::failed("etcd exited with status " + std::to_string(*st) +
                                 " during start-up; see " + log_path_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return step_status::failed("etcd was not healthy within 15 s on " + endpoint());
}

void etcd_child::kill_now() {
  if (proc_) proc_->kill_now();
  proc_.reset();
}

std::optional<int> etcd_child::poll_exit() {
  if (!proc_) return std::nullopt;
  auto st = proc_->poll_exit();
  if (st) proc_.reset();
  return st;
}

}  // namespace keel::chaos
