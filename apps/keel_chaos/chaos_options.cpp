#include "chaos_options.hpp"

#include <unistd.h>

#include <filesystem>

#include <CLI/CLI.hpp>

namespace keel::chaos {

namespace {

// The directory of this executable: keel-node and keelctl are built next to it.
std::string own_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{"."} : exe.parent_path().string();
}

CLI::Option* seconds_flag(CLI::App& app, const std::string& name, std::chrono::seconds& target,
                          const std::string& help) {
  return app
      .add_option_function<int>(
          name, [&target](int s) { target = std::chrono::seconds{s}; }, help)
      ->default_str(std::to_string(target.count()))
      ->check(CLI::Range(1, 86400));
}

CLI::Option* millis_flag(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                         const std::string& help) {
  return app
      .add_option_function<int>(
          name, [&target](int ms) { target = std::chrono::milliseconds{ms}; }, help)
      ->default_str(std::to_string(target.count()))
      ->check(CLI::Range(0, 3600000));
}

// The --short preset: a run of under a minute with faults the product survives today.
// Applied only to the flags the command line did not set.
void apply_short_preset(const CLI::App& app, chaos_options& o) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (unset("--clients")) o.clients = 4;
  if (unset("--keys")) o.keys = 60;
  if (unset("--faults"))
    o.faults = {fault_kind::kill_member, fault_kind::kill_coordinator, fault_kind::join};
  if (unset("--fault-count")) o.fault_count = 3;
  if (unset("--duration-limit")) o.duration_limit = std::chrono::seconds{45};
  if (unset("--warmup-ms")) o.warmup = std::chrono::milliseconds{2000};
  if (unset("--steady-ms")) o.steady = std::chrono::milliseconds{2000};
}

}  // namespace

std::optional<int> parse_chaos_options(int argc, char** argv, chaos_options& o) {
  CLI::App app{
      "keel-chaos: starts etcd and keel-node processes on loopback, drives counters through "
      "random nodes while it injects faults one at a time, and checks every answer"};
  bool short_run = false;
  std::vector<std::string> fault_names;
  app.add_option("--seed", o.seed, "draws the faults' order, victims and downtimes")
      ->capture_default_str();
  app.add_option("--nodes", o.nodes, "keel-node processes at the start")
      ->capture_default_str()
      ->check(CLI::Range(2, 9));
  app.add_option("--clients", o.clients, "client threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--keys", o.keys, "counter keys, each owned by one client")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  std::string all_names;
  for (auto k : all_faults()) all_names += (all_names.empty() ? "" : ",") + std::string{name_of(k)};
  app.add_option("--faults", fault_names, "faults to draw from (comma-separated): " + all_names)
      ->delimiter(',');
  app.add_option("--fault-count", o.fault_count, "faults to inject, one at a time")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  seconds_flag(app, "--duration-limit", o.duration_limit,
               "seconds after which no further fault starts");
  seconds_flag(app, "--recovery-limit", o.recovery_limit,
               "seconds a fault may take from injection to recovery");
  millis_flag(app, "--warmup-ms", o.warmup, "load before the first fault");
  millis_flag(app, "--steady-ms", o.steady, "load on the recovered cluster after each fault");
  millis_flag(app, "--request-timeout-ms", o.request_timeout, "the nodes' --request-timeout");
  app.add_option("--bin-dir", o.bin_dir,
                 "where keel-node and keelctl are (default: beside keel-chaos)");
  app.add_option("--work-dir", o.work_dir, "data dirs and logs (default: a new /tmp/keel-chaos-*)");
  app.add_flag("--keep", o.keep, "keep the work dir after a PASS (it is always kept after a FAIL)");
  app.add_flag("--short", short_run,
               "a run of under a minute: kill-member, kill-coordinator, join");
  app.add_flag("--tolerate-no-fail-op-failures", o.tolerate_no_fail_op_failures,
               "report failed requests during join, drain and SIGTERM leave, but PASS anyway");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (short_run) apply_short_preset(app, o);
  if (!fault_names.empty()) o.faults.clear();
  for (const auto& name : fault_names) {
    auto kind = fault_from_name(name);
    if (!kind) {
      std::fprintf(stderr, "--faults: unknown fault '%s' (one of %s)\n", name.c_str(),
                   all_names.c_str());
      return 2;
    }
    o.faults.push_back(*kind);
  }
  if (o.bin_dir.empty()) o.bin_dir = own_dir();
  return std::nullopt;
}

}  // namespace keel::chaos
