#include "chaos_report.hpp"

#include <set>

#include <fmt/format.h>

namespace keel::chaos {

bool verdict_counts::pass() const {
  bool no_fail_ok = tolerate_no_fail_op_failures || failed_during_no_fail_ops == 0;
  return lost == 0 && applied_though_failed == 0 && backwards == 0 && stuck_keys == 0 &&
         crashes == 0 && unrecovered == 0 && problems == 0 && no_fail_ok;
}

std::string verdict_counts::line() const {
  return fmt::format(
      "verdict: {} keys={} acked={} lost={} applied_though_failed={} backwards={} stuck_keys={} "
      "failed_during_no_fail_ops={}{} crashes={} unrecovered={} problems={}",
      pass() ? "PASS" : "FAIL", keys, acked, lost, applied_though_failed, backwards, stuck_keys,
      failed_during_no_fail_ops, tolerate_no_fail_op_failures ? "(tolerated)" : "", crashes,
      unrecovered, problems);
}

namespace {

std::string row(const std::string& number, const std::string& fault, const std::string& recovery,
                const phase_stats& during, const phase_stats& after) {
  return fmt::format("{:>3} {:<18} {:>9} {:>8} {:>8} {:>7} {:>7}  {:<40} {:>7} {:>6}\n", number,
                     fault, recovery, during.requests, during.acked, during.failed(),
                     during.unknown, during.codes_text(), after.requests, after.failed());
}

std::string messages(const phase_stats& s) {
  std::string out;
  for (const auto& [code, message] : s.first_message)
    if (!message.empty()) out += fmt::format("      {}: {}\n", code, message);
  return out;
}

}  // namespace

std::string render_fault_table(const phase_stats& warmup, const std::vector<fault_row>& rows,
                               const phase_stats& sweep, const phase_stats& read) {
  phase_stats none;
  std::string out =
      "\nper-fault table (calls by the phase they started in; \"after\" = steady "
      "load on the recovered cluster before the next fault)\n";
  out += fmt::format("{:>3} {:<18} {:>9} {:>8} {:>8} {:>7} {:>7}  {:<40} {:>7} {:>6}\n", "#",
                     "fault", "recovery", "requests", "acked", "failed", "unknown",
                     "failed by code", "after", "failed");
  out += row("-", "warm-up", "-", warmup, none);
  for (const auto& r : rows) {
    auto recovery = r.fault.recovery_s ? fmt::format("{:.1f} s", *r.fault.recovery_s) : "NONE";
    out += row(std::to_string(r.number), std::string{name_of(r.fault.kind)}, recovery, r.during,
               r.after);
  }
  out += row("-", "sweep (writes)", "-", sweep, none);
  out += row("-", "final read", "-", read, none);
  out += "\nwhat each fault did, its problems, and the first message of each failure code:\n";
  if (warmup.failed() > 0) out += "  warm-up:\n" + messages(warmup);
  for (const auto& r : rows) {
    out +=
        fmt::format("  #{} {}: {}{}\n", r.number, name_of(r.fault.kind), r.fault.action,
                    promises_no_failures(r.fault.kind) ? " [documented to fail no request]" : "");
    for (const auto& p : r.fault.problems) out += "    PROBLEM: " + p + "\n";
    if (!r.fault.recovery_s) out += "    PROBLEM: " + r.fault.unrecovered + "\n";
    out += messages(r.during);
    if (r.after.failed() > 0) out += "    after recovery:\n" + messages(r.after);
  }
  if (sweep.failed() > 0) out += "  sweep:\n" + messages(sweep);
  return out;
}

std::string render_stuck_keys(const std::vector<stuck_key>& stuck) {
  std::set<std::string> keys;
  for (const auto& s : stuck) keys.insert(s.key);
  std::string out = fmt::format("\nkeys refusing writes after recovery: {}\n",
                                keys.empty() ? "none" : std::to_string(keys.size()));
  size_t shown = 0;
  for (const auto& s : stuck) {
    if (++shown > 40) {
      out += fmt::format("  ... and {} more\n", stuck.size() - 40);
      break;
    }
    out += fmt::format("  {} via {}: {} {}\n", s.key, s.node_id, s.code, s.message);
  }
  return out;
}

std::string render_crashes(const std::vector<crash_record>& crashes) {
  std::string out =
      fmt::format("\ncrashes: {}\n", crashes.empty() ? "none" : std::to_string(crashes.size()));
  for (const auto& c : crashes)
    out += fmt::format("  {} exited with status {} at +{:.1f}s; log tail:\n{}", c.node_id,
                       c.exit_status, c.at_s, c.log_tail);
  return out;
}

}  // namespace keel::chaos
