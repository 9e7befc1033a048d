// keel-chaos: fault injection against real keel-node processes on loopback. Wiring only:
// options, the work dir, the watchdog, one chaos_run.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "chaos_options.hpp"
#include "chaos_run.hpp"
#include "watchdog.hpp"

int main(int argc, char** argv) {
  using namespace keel::chaos;
  using namespace std::chrono_literals;
  chaos_options options;
  if (auto exit_status = parse_chaos_options(argc, argv, options)) return *exit_status;
  if (options.work_dir.empty()) {
    char pattern[] = "/tmp/keel-chaos-XXXXXX";
    if (!mkdtemp(pattern)) {
      std::cerr << "keel-chaos: cannot create a work dir under /tmp\n";
      return 2;
    }
    options.work_dir = pattern;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.work_dir, ec);
    if (ec) {
      std::cerr << "keel-chaos: cannot create " << options.work_dir << ": " << ec.message() << "\n";
      return 2;
    }
  }
  watchdog::block_stop_signals();
  child_registry registry;
  progress_log log;
  // Room after the last fault for its recovery, the sweep and the final read.
  watchdog guard{registry, log, options.duration_limit + options.recovery_limit + 120s,
                 options.work_dir};
  int status = chaos_run{options, registry, log}.run();
  if (status == 0 && !options.keep) {
    std::error_code ec;
    std::filesystem::remove_all(options.work_dir, ec);
  } else {
    log.line("work dir kept: " + options.work_dir);
  }
  return status;
}
