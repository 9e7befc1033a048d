#include "chaos_run.hpp"

#include <sys/stat.h>

#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace keel::chaos {

using namespace std::chrono_literals;

namespace {

cluster_config cluster_config_of(const chaos_options& o) {
  cluster_config c;
  c.bin_dir = o.bin_dir;
  c.work_dir = o.work_dir;
  c.request_timeout = o.request_timeout;
  c.replication_factor = o.replication_factor;
  return c;
}

load_config load_config_of(const chaos_options& o) {
  load_config c;
  c.clients = o.clients;
  c.keys = o.keys;
  c.phases = 2 * o.fault_count + 3;
  // Above the nodes' deadline, so a node's own 504 comes before the client gives up.
  c.call_timeout = o.request_timeout + 1500ms;
  c.seed = o.seed;
  return c;
}

// When keel-node was built: the binaries may be rebuilt between runs, and a report should
// say which one it judged.
std::string built_at(const std::string& binary) {
  struct stat st {};
  if (stat(binary.c_str(), &st) != 0) return "missing";
  return fmt::format("{:%Y-%m-%d %H:%M:%S}", fmt::gmtime(st.st_mtime)) + " UTC";
}

}  // namespace

chaos_run::chaos_run(const chaos_options& options, child_registry& registry, progress_log& log)
    : options_(options),
      log_(log),
      fault_phases_(2 * options.fault_count),
      cluster_(cluster_config_of(options), registry, targets_, log),
      load_(load_config_of(options), targets_, log),
      runner_(cluster_, log, fault_timing{.recovery_limit = options.recovery_limit}, options.seed,
              [this] { tick(); }),
      last_tick_(std::chrono::steady_clock::now()) {}

step_status chaos_run::start_cluster() {
  if (auto st = cluster_.etcd().start(); !st.is_ok()) return st;
  log_.line("etcd serving on " + cluster_.etcd().endpoint());
  for (int i = 1; i <= options_.nodes; ++i) {
    auto id = "n" + std::to_string(i);
    if (auto st = cluster_.start_node(id); !st.is_ok()) return st;
    log_.line(fmt::format("{} serving on 127.0.0.1:{}", id, cluster_.port_of(id)));
  }
  auto result = cluster_.wait_recovered(60s, 500ms, [] {});
  if (result.status.is_ok()) log_.line("cluster up, coordinator " + cluster_.coordinator());
  return result.status;
}

void chaos_run::tick() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_tick_ < 5s) return;
  last_tick_ = now;
  auto requests = load_.requests_so_far();
  auto failed = load_.failed_so_far();
  log_.line(
      fmt::format("load: {} calls (+{}), {} failed (+{}); anomalies: backwards {}, "
                  "applied though failed {}",
                  requests, requests - last_requests_, failed, failed - last_failed_,
                  load_.count(anomaly::backwards), load_.count(anomaly::applied_though_failed)));
  last_requests_ = requests;
  last_failed_ = failed;
}

void chaos_run::inject_faults(const std::vector<fault_kind>& plan) {
  for (size_t i = 0; i < plan.size(); ++i) {
    if (log_.elapsed_s() > static_cast<double>(options_.duration_limit.count())) {
      log_.line(fmt::format("duration limit of {} s reached: {} of {} faults not injected",
                            options_.duration_limit.count(), plan.size() - i, plan.size()));
      return;
    }
    fault_row row;
    row.number = static_cast<int>(i) + 1;
    if (!runner_.can_run(plan[i])) {
      log_.line(fmt::format("fault {}/{} {}: skipped, too few members", row.number, plan.size(),
                            name_of(plan[i])));
      continue;
    }
    load_.set_phase(static_cast<int>(2 * i + 1), phase_kind::fault);
    log_.line(fmt::format("fault {}/{} {}", row.number, plan.size(), name_of(plan[i])));
    row.fault = runner_.run(plan[i]);
    load_.set_phase(static_cast<int>(2 * i + 2), phase_kind::steady);
    runner_.pause(options_.steady);
    rows_.push_back(std::move(row));
  }
}

int chaos_run::run() {
  auto plan = plan_faults(options_.faults, options_.fault_count, options_.seed);
  log_.line(fmt::format("keel-chaos seed={} nodes={} clients={} keys={} faults=[{}]", options_.seed,
                        options_.nodes, options_.clients, options_.keys, names_of(plan)));
  log_.line(fmt::format("bin dir {} (keel-node built {}), work dir {}", options_.bin_dir,
                        built_at(options_.bin_dir + "/keel-node"), options_.work_dir));
  if (auto st = start_cluster(); !st.is_ok()) {
    log_.line("PROBLEM: the cluster did not start: " + st.why());
    log_.raw("verdict: FAIL the cluster did not start; work dir kept: " + options_.work_dir + "\n");
    return 1;
  }
  load_.start();
  runner_.pause(options_.warmup);
  inject_faults(plan);
  load_.stop();
  int sweep_phase = fault_phases_ + 1;
  log_.line("sweep: an Increment of every key through every node");
  load_.sweep(sweep_phase, 4);
  log_.line("final read of every key");
  load_.final_read(sweep_phase + 1);
  cluster_.check_crashes();
  for (auto& r : rows_) {
    r.during = load_.stats(2 * r.number - 1);
    r.after = load_.stats(2 * r.number);
  }
  auto verdict = count_verdict();
  print_report(verdict);
  cluster_.kill_all();
  return verdict.pass() ? 0 : 1;
}

verdict_counts chaos_run::count_verdict() const {
  verdict_counts v;
  v.keys = options_.keys;
  v.lost = load_.count(anomaly::lost);
  v.applied_though_failed = load_.count(anomaly::applied_though_failed);
  v.backwards = load_.count(anomaly::backwards);
  std::set<std::string> stuck;
  for (const auto& s : load_.stuck()) stuck.insert(s.key);
  v.stuck_keys = static_cast<int64_t>(stuck.size());
  v.crashes = static_cast<int64_t>(cluster_.crashes().size());
  v.tolerate_no_fail_op_failures = options_.tolerate_no_fail_op_failures;
  for (int p = 0; p <= fault_phases_ + 1; ++p) v.acked += load_.stats(p).acked;
  for (const auto& r : rows_) {
    if (promises_no_failures(r.fault.kind)) v.failed_during_no_fail_ops += r.during.failed();
    if (!r.fault.recovery_s) ++v.unrecovered;
    v.problems += static_cast<int64_t>(r.fault.problems.size());
  }
  return v;
}

void chaos_run::print_report(const verdict_counts& verdict) {
  log_.raw(render_fault_table(load_.stats(0), rows_, load_.stats(fault_phases_ + 1),
                              load_.stats(fault_phases_ + 2)));
  auto [settled, applied] = load_.unknown_settled_and_applied();
  log_.raw(
      fmt::format("\ncalls of unknown outcome settled by a later answer: {}, of which "
                  "applied: {}\n",
                  settled, applied));
  log_.raw(render_stuck_keys(load_.stuck()));
  log_.raw(render_crashes(cluster_.crashes()));
  log_.raw(fmt::format("\nwork dir: {}\n", options_.work_dir));
  log_.raw(verdict.line() + "\n");
}

}  // namespace keel::chaos
