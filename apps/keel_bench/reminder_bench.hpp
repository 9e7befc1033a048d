#pragma once

#include <string>
#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (h) reminders at scale: N reminders (4 per actor) written, then a fresh child process
/// loads them (RSS per reminder against its stored bytes), and again with every one of them
/// overdue (time to the first firing, firings/s against durable turns/s, and how long a stop
/// takes with firings in flight).
void bench_reminders(const bench_config& cfg, progress& prog, std::vector<result>& out);

/// The child side: prints "<bytes per reminder> <first firing ms> <firings/s> <stop ms>"
/// for the store in `dir` holding `count` reminders.
int reminder_child(const std::string& dir, int count);

}  // namespace keel::bench
