// keel-bench: Keel against what the same machine does without Keel, in one run.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "bench_report.hpp"
#include "cluster_bench.hpp"
#include "coroutine_bench.hpp"
#include "http_bench.hpp"
#include "rebalance_bench.hpp"
#include "reminder_bench.hpp"
#include "replication_bench.hpp"
#include "runtime_benches.hpp"

int main(int argc, char** argv) {
  using namespace keel::bench;
  // Row f's node A speaks TLS through CAF's openssl sessions, which write with write():
  // a closed peer must cost an error, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"keel-bench: Keel vs raw CAF, raw LevelDB and the bare HTTP server"};
  bool quick = false;
  bool json = false;
  std::string only = "abcdefghij";
  std::string memory_kind;
  std::string child_kind;
  std::string reminder_dir;
  int count = 100000;
  app.add_flag("--quick", quick, "shorter runs (under 60 s in all)");
  app.add_flag("--json", json, "print only {\"results\":[...]} on stdout");
  app.add_option("--only", only, "letters of the benchmarks to run (a-j)")->capture_default_str();
  app.add_option("--child", child_kind, "internal: run a (f) baseline peer: caf-echo|tcp-echo");
  app.add_option("--memory-child", memory_kind, "internal: measure memory of keel|caf actors");
  app.add_option("--count", count, "internal: actors for --memory-child");
  app.add_option("--reminder-child", reminder_dir, "internal: measure the reminders in this dir");
  CLI11_PARSE(app, argc, argv);
  if (!memory_kind.empty()) return memory_child(memory_kind, count);
  if (!child_kind.empty()) return cluster_child(child_kind);
  if (!reminder_dir.empty()) return reminder_child(reminder_dir, count);

  bench_config cfg;
  cfg.quick = quick;
  cfg.rounds = quick ? 1 : 5;
  cfg.self_path = std::filesystem::canonical("/proc/self/exe").string();
  cfg.bin_dir = std::filesystem::path{cfg.self_path}.parent_path().string();
  int steps = 0;
  for (char c : only) steps += c == 'a' ? 2 : (c >= 'b' && c <= 'j') ? 1 : 0;
  progress prog{steps};
  std::vector<result> results;
  try {
    if (only.find('a') != std::string::npos) bench_local_calls(cfg, prog, results);
    if (only.find('b') != std::string::npos) bench_durable_turns(cfg, prog, results);
    if (only.find('c') != std::string::npos) bench_memory(cfg, prog, results);
    if (only.find('d') != std::string::npos) bench_http(cfg, prog, results);
    if (only.find('e') != std::string::npos) bench_local_protobuf(cfg, prog, results);
    if (only.find('f') != std::string::npos) bench_cross_node(cfg, prog, results);
    if (only.find('g') != std::string::npos) bench_rebalance(cfg, prog, results);
    if (only.find('h') != std::string::npos) bench_reminders(cfg, prog, results);
    if (only.find('i') != std::string::npos) bench_coroutine_turns(cfg, prog, results);
    if (only.find('j') != std::string::npos) bench_replication(cfg, prog, results);
  } catch (const std::exception& e) {
    std::cerr << "keel-bench: " << e.what() << "\n";
    return 1;
  }
  if (json)
    print_json(results);
  else
    print_table(results);
  return 0;
}
