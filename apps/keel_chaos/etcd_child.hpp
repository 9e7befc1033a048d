#pragma once

#include <memory>
#include <optional>
#include <string>

#include "child_process.hpp"
#include "step_status.hpp"

namespace keel::chaos {

/// The etcd the cluster registers in: one member on two free loopback ports chosen once,
/// data in `<work_dir>/etcd`, so a restart after kill -9 comes back on the same address
/// with the same data, as the nodes' --etcd expects.
/// Thread safety: externally synchronized (the fault loop's thread).
class etcd_child {
 public:
  /// `binary` is `etcd` or a path; its log is `<work_dir>/etcd.log`.
  etcd_child(std::string binary, std::string work_dir, child_registry& registry);

  /// Starts etcd and waits (at most 15 s) for /health to say true.
  step_status start();
  void kill_now();
  /// The exit status if etcd exited on its own since start(); nullopt while it runs.
  std::optional<int> poll_exit();
  bool running() const noexcept { return proc_ != nullptr; }
  /// host:port of the client URL, for --etcd.
  std::string endpoint() const;
  const std::string& log_path() const noexcept { return log_path_; }

 private:
  step_status start_once();

  std::string binary_;
  std::string work_dir_;
  std::string log_path_;
  child_registry& registry_;
  int client_port_ = 0;
  int peer_port_ = 0;
  bool served_ = false;  // started once: the ports are fixed from then on
  std::unique_ptr<child_process> proc_;
};

}  // namespace keel::chaos
