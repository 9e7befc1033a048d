#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

namespace keel::bench {

/// What the threads of one or more processes have used so far: CPU time from the
/// scheduler's own accounting (/proc/<pid>/task/*/schedstat, finer than /proc/<pid>/stat's
/// clock ticks) and context switches, voluntary and not (/proc/<pid>/task/*/status).
/// Threads that have exited are not counted: measure over intervals in which the processes
/// keep their threads. A plain value; any thread may take one.
struct process_usage {
  uint64_t cpu_ns = 0;
  uint64_t switches = 0;

  static process_usage of(std::initializer_list<pid_t> pids) {
    process_usage total;
    for (auto pid : pids) total += of(pid);
    return total;
  }

  static process_usage of(pid_t pid) {
    process_usage total;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/task", ec}) {
      std::ifstream sched{task.path() / "schedstat"};
      uint64_t ran = 0;
      if (sched >> ran) total.cpu_ns += ran;
      std::ifstream status{task.path() / "status"};
      for (std::string line; std::getline(status, line);)
        if (line.find("ctxt_switches:") != line.npos)
          total.switches += std::stoull(line.substr(line.find(':') + 1));
    }
    return total;
  }

  process_usage& operator+=(const process_usage& other) {
    cpu_ns += other.cpu_ns;
    switches += other.switches;
    return *this;
  }
  /// What was used since `before`; 0, not a wrapped number, where a thread that ended
  /// meanwhile took its share out of the sum.
  process_usage operator-(const process_usage& before) const {
    auto since = [](uint64_t now, uint64_t then) { return now > then ? now - then : 0; };
    return {since(cpu_ns, before.cpu_ns), since(switches, before.switches)};
  }
};

}  // namespace keel::bench
