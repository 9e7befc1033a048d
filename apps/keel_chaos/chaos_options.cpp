#include "chaos_options.hpp"

#include <unistd.h>

#include <filesystem>
#include <type_traits>

#include <CLI/CLI.hpp>

namespace keel::chaos {

using namespace std::chrono_literals;

namespace {

// The directory of this executable: keel-node and keelctl are built next to it.
std::string own_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{"."} : exe.parent_path().string();
}

// A flag that takes a whole number of `Duration`'s units within [low, high].
template <class Duration>
CLI::Option* duration_flag(CLI::App& app, const std::string& name, Duration& target,
                           std::type_identity_t<Duration> low, std::type_identity_t<Duration> high,
                           const std::string& help) {
  return app
      .add_option_function<int>(
          name, [&target](int n) { target = Duration{n}; }, help)
      ->default_str(std::to_string(target.count()))
      ->check(CLI::Range(low.count(), high.count()));
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
  app.add_option("--replication-factor", o.replication_factor,
                 "copies of each partition (the nodes' --replication-factor): with 2 or more "
                 "a killed owner's partitions are served by a replica")
      ->capture_default_str()
      ->check(CLI::Range(1, 3));
  app.add_option("--clients", o.clients, "client threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--keys", o.keys, "counter keys, each owned by one client")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  const std::string all_names = names_of(all_faults());
  app.add_option("--faults", fault_names, "faults to draw from (comma-separated): " + all_names)
      ->delimiter(',');
  app.add_option("--fault-count", o.fault_count, "faults to inject, one at a time")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  duration_flag(app, "--duration-limit", o.duration_limit, 1s, 24h,
                "seconds after which no further fault starts");
  duration_flag(app, "--recovery-limit", o.recovery_limit, 1s, 24h,
                "seconds a fault may take from injection to recovery");
  duration_flag(app, "--warmup-ms", o.warmup, 0ms, 1h, "load before the first fault");
  duration_flag(app, "--steady-ms", o.steady, 0ms, 1h,
                "load on the recovered cluster after each fault");
  duration_flag(app, "--request-timeout-ms", o.request_timeout, 0ms, 1h,
                "the nodes' --request-timeout");
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
