#include "cluster_under_test.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "recovery_check.hpp"

namespace keel::chaos {

using namespace std::chrono_literals;

struct cluster_under_test::node_slot {
  std::string id;
  std::string data_dir;
  std::string log_path;
  std::string out_path;
  std::unique_ptr<child_process> proc;
  int port = 0;
  node_state state = node_state::down;
  int starts = 0;
  std::optional<int> last_exit;  // the status of the process last reaped
};

cluster_under_test::cluster_under_test(cluster_config config, child_registry& registry,
                                       live_targets& targets, progress_log& log)
    : config_(std::move(config)),
      registry_(registry),
      targets_(targets),
      log_(log),
      etcd_(config_.etcd, config_.work_dir, registry) {}

cluster_under_test::~cluster_under_test() {
  kill_all();
}

std::string cluster_under_test::fresh_node_id() const {
  return "n" + std::to_string(nodes_.size() + 1);
}

cluster_under_test::node_slot& cluster_under_test::slot(const std::string& id) {
  for (auto& n : nodes_)
    if (n->id == id) return *n;
  auto n = std::make_unique<node_slot>();
  n->id = id;
  n->data_dir = config_.work_dir + "/" + id;
  n->log_path = config_.work_dir + "/" + id + ".log";
  n->out_path = config_.work_dir + "/" + id + ".out";
  nodes_.push_back(std::move(n));
  return *nodes_.back();
}

const cluster_under_test::node_slot* cluster_under_test::find(const std::string& id) const {
  for (const auto& n : nodes_)
    if (n->id == id) return n.get();
  return nullptr;
}

void cluster_under_test::spawn_node(const std::string& id) {
  auto& n = slot(id);
  ++n.starts;
  n.last_exit.reset();
  {
    // A marker in the node's log, so each start's lines can be told apart.
    std::ofstream marker{n.log_path, std::ios::app};
    marker << fmt::format("==== keel-chaos: start #{} of {} at +{:.2f}s ====\n", n.starts, id,
                          log_.elapsed_s());
  }
  child_spec spec{
      config_.bin_dir + "/keel-node",
      {"--node-id=" + id, "--etcd=" + etcd_.endpoint(), "--data-dir=" + n.data_dir, "--http-port=0",
       "--cluster-port=0", "--lease-ttl=" + std::to_string(config_.lease_ttl_s) + "s",
       "--request-timeout=" + std::to_string(config_.request_timeout.count()) + "ms",
       "--leave-timeout=" + std::to_string(config_.leave_timeout.count()) + "s",
       "--replication-factor=" + std::to_string(config_.replication_factor), "--log-level=info"},
      n.out_path,
      n.log_path};
  // The child truncates its stdout file only once it runs: remove the last start's listening
  // line first, or await_node() could read the old port.
  std::remove(n.out_path.c_str());
  n.proc = std::make_unique<child_process>(spec, registry_);
  n.state = node_state::down;
}

step_status cluster_under_test::await_node(const std::string& id, std::chrono::seconds limit) {
  auto& n = slot(id);
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (n.proc && std::chrono::steady_clock::now() < give_up) {
    if (auto port = listening_port(n.out_path)) {
      n.port = *port;
      n.state = node_state::running;
      return step_status::ok();
    }
    if (auto st = n.proc->poll_exit()) {
      n.proc.reset();
      if (*st >= 128) crashes_.push_back({id, *st, log_.elapsed_s(), tail_of_file(n.log_path, 30)});
      return step_status::failed(fmt::format("{} exited with status {} during start-up:\n{}", id,
                                             *st, tail_of_file(n.log_path, 12)));
    }
    std::this_thread::sleep_for(20ms);
  }
  return step_status::failed(fmt::format("{} printed no listening line within {} s:\n{}", id,
                                         limit.count(), tail_of_file(n.log_path, 12)));
}

step_status cluster_under_test::start_node(const std::string& id) {
  auto binary = config_.bin_dir + "/keel-node";
  step_status last = step_status::failed("not started");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    // The binaries may be rebuilt under us: wait for one to be there again.
    for (int i = 0; i < 600 && access(binary.c_str(), X_OK) != 0; ++i)
      std::this_thread::sleep_for(100ms);
    spawn_node(id);
    last = await_node(id, 30s);
    if (last.is_ok()) return last;
    log_.line(fmt::format("start of {} failed (attempt {} of 3): {}", id, attempt, last.why()));
    if (auto& n = slot(id); n.proc) n.proc->kill_now(), n.proc.reset();
    std::this_thread::sleep_for(1s);
  }
  return last;
}

void cluster_under_test::kill_node(const std::string& id) {
  auto& n = slot(id);
  targets_.remove(id);
  if (n.proc) n.last_exit = n.proc->kill_now();
  n.proc.reset();
  n.state = node_state::down;
}

void cluster_under_test::stop_node(const std::string& id) {
  auto& n = slot(id);
  targets_.remove(id);
  if (n.proc) n.proc->signal(SIGSTOP);
  n.state = node_state::stopped;
}

void cluster_under_test::continue_node(const std::string& id) {
  auto& n = slot(id);
  if (n.proc) n.proc->signal(SIGCONT);
  n.state = node_state::running;
}

void cluster_under_test::mark_leaving(const std::string& id) {
  targets_.remove(id);
  slot(id).state = node_state::leaving;
}

void cluster_under_test::signal_node(const std::string& id, int sig) {
  if (auto& n = slot(id); n.proc) n.proc->signal(sig);
}

std::optional<int> cluster_under_test::wait_node_exit(const std::string& id,
                                                      std::chrono::milliseconds limit) {
  auto& n = slot(id);
  if (!n.proc) return n.last_exit;
  auto st = n.proc->wait_exit(limit);
  if (st) {
    n.proc.reset();
    n.state = node_state::down;
    n.last_exit = st;
  }
  return st;
}

std::vector<std::string> cluster_under_test::member_ids() const {
  std::vector<std::string> ids;
  for (const auto& n : nodes_)
    if (n->state == node_state::running) ids.push_back(n->id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<target> cluster_under_test::running_targets() const {
  std::vector<target> out;
  for (const auto& n : nodes_)
    if (n->state == node_state::running) out.push_back({n->id, n->port});
  return out;
}

std::string cluster_under_test::coordinator() const {
  for (int i = 0; i < 50; ++i) {
    auto id = coordinator_seen_by(running_targets());
    if (!id.empty()) return id;
    std::this_thread::sleep_for(100ms);
  }
  return {};
}

int cluster_under_test::port_of(const std::string& id) const {
  const auto* n = find(id);
  return n ? n->port : 0;
}

void cluster_under_test::publish_targets() {
  targets_.set(running_targets());
}

void cluster_under_test::check_crashes() {
  if (auto st = etcd_.poll_exit()) {
    log_.line(fmt::format("etcd exited on its own with status {}; restarting it:\n{}", *st,
                          tail_of_file(etcd_.log_path(), 20)));
    if (auto started = etcd_.start(); !started.is_ok()) log_.line(started.why());
  }
  for (auto& n : nodes_) {
    if (!n->proc || (n->state != node_state::running && n->state != node_state::leaving)) continue;
    auto st = n->proc->poll_exit();
    if (!st) continue;
    n->proc.reset();
    n->last_exit = st;
    targets_.remove(n->id);
    if (n->state == node_state::leaving && *st == 0) {
      n->state = node_state::down;
      continue;
    }
    crashes_.push_back({n->id, *st, log_.elapsed_s(), tail_of_file(n->log_path, 30)});
    log_.line(
        fmt::format("CRASH: {} exited with status {} though keel-chaos did not stop it; "
                    "log tail ({}):\n{}",
                    n->id, *st, n->log_path, tail_of_file(n->log_path, 12)));
    n->state = node_state::crashed;
  }
}

recovery cluster_under_test::wait_recovered(std::chrono::milliseconds limit,
                                            std::chrono::milliseconds stable,
                                            const std::function<void()>& tick) {
  auto started = std::chrono::steady_clock::now();
  auto give_up = started + limit;
  bool whole = false;
  std::chrono::steady_clock::time_point whole_since;
  std::string gap = "not checked yet";
  std::string shown;
  while (std::chrono::steady_clock::now() < give_up) {
    check_crashes();
    for (auto& n : nodes_)
      if (n->state == node_state::crashed) {
        log_.line("restarting crashed " + n->id);
        if (auto st = start_node(n->id); !st.is_ok()) log_.line(st.why());
      }
    auto running = running_targets();
    gap = running.empty() ? "no node runs" : recovery_gap(running);
    auto now = std::chrono::steady_clock::now();
    if (!gap.empty()) {
      whole = false;
    } else if (!whole) {
      whole = true;
      whole_since = now;
    } else if (now - whole_since >= stable) {
      publish_targets();
      return {step_status::ok(), whole_since};
    }
    if (!gap.empty() && gap != shown && now - started > 2s) {
      log_.line("  waiting: " + gap);
      shown = gap;
    }
    tick();
    std::this_thread::sleep_for(100ms);
  }
  return {step_status::failed(fmt::format("not recovered within {:.0f} s: {}",
                                          std::chrono::duration<double>(limit).count(), gap)),
          {}};
}

std::unique_ptr<child_process> cluster_under_test::spawn_keelctl(
    const std::vector<std::string>& args) {
  auto path = config_.work_dir + "/keelctl.log";
  return std::make_unique<child_process>(
      child_spec{config_.bin_dir + "/keelctl", args, path + ".out", path}, registry_);
}

void cluster_under_test::kill_all() {
  for (auto& n : nodes_) {
    if (n->proc) n->proc->kill_now();
    n->proc.reset();
    n->state = node_state::down;
  }
  etcd_.kill_now();
}

}  // namespace keel::chaos
