#include "report.hpp"

#include <cmath>
#include <iostream>

#include <fmt/format.h>

namespace keel::sim {

namespace {

constexpr route reported_routes[] = {route::request_ride, route::accept, route::start,
                                     route::complete,     route::cancel, route::put_location,
                                     route::get_ride};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "null";
  return fmt::format("{:.4f}", *v);
}

std::string or_dash(std::optional<double> v) {
  return v ? fmt::format("{:.2f}", *v) : "-";
}

}  // namespace

bool run_summary::pass() const {
  if (checks.empty()) return false;
  for (const auto& c : checks)
    if (!c.pass) return false;
  return true;
}

void print_table(const run_summary& s) {
  auto& out = std::cout;
  out << fmt::format("rides finished     {} in {:.1f} s = {:.1f} rides/s\n", s.rides_finished,
                     s.elapsed_s, s.rides_per_second());
  for (const auto& [path, n] : s.paths) out << fmt::format("  {:<28} {}\n", path_name(path), n);
  out << fmt::format(
      "durable turns/ride {}   (keel_durable_turns_total delta over all members / rides)\n",
      or_dash(s.durable_turns_per_ride));
  out << fmt::format(
      "turns/ride         {}   (keel_turns_total delta less the sim's own "
      "reads / rides)\n\n",
      or_dash(s.turns_per_ride));
  out << fmt::format("{:<32} {:>8} {:>9} {:>9} {:>9}\n", "route (2xx only)", "calls", "p50 ms",
                     "p99 ms", "p999 ms");
  for (auto r : reported_routes) {
    auto l = s.stats.summarize(r);
    if (l.count == 0 && r == route::get_ride) continue;  // only used to recover from errors
    out << fmt::format("{:<32} {:>8} {:>9.2f} {:>9.2f} {:>9.2f}\n", route_name(r), l.count,
                       l.p50_ms, l.p99_ms, l.p999_ms);
  }
  out << fmt::format("\nerrors             {}\n", s.stats.error_count());
  for (const auto& [key, n] : s.stats.errors()) {
    out << fmt::format("  {:<60} {}\n", key, n);
    if (auto it = s.stats.first_errors().find(key); it != s.stats.first_errors().end())
      out << fmt::format("    first: {}\n", it->second);
  }
  out << "\ninvariants\n";
  for (const auto& c : s.checks)
    out << fmt::format("  {}  {}: {}\n", c.pass ? "PASS" : "FAIL", c.name, c.detail);
  out << (s.pass() ? "\nPASS\n" : "\nFAIL\n");
}

void print_json(const run_summary& s) {
  std::string out = "{";
  out +=
      fmt::format(R"("pass":{},"elapsed_s":{:.3f},"rides_finished":{},"rides_per_second":{:.2f},)",
                  s.pass() ? "true" : "false", s.elapsed_s, s.rides_finished, s.rides_per_second());
  out += fmt::format(R"("durable_turns_per_ride":{},"turns_per_ride":{},)",
                     json_number(s.durable_turns_per_ride), json_number(s.turns_per_ride));
  out += R"("paths":{)";
  bool first = true;
  for (const auto& [path, n] : s.paths) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_string(path_name(path)), n);
    first = false;
  }
  out += R"(},"latency_ms":{)";
  first = true;
  for (auto r : reported_routes) {
    auto l = s.stats.summarize(r);
    out += fmt::format(R"({}{}:{{"count":{},"p50":{:.3f},"p99":{:.3f},"p999":{:.3f}}})",
                       first ? "" : ",", json_string(route_name(r)), l.count, l.p50_ms, l.p99_ms,
                       l.p999_ms);
    first = false;
  }
  out += fmt::format(R"(}},"error_count":{},"errors":{{)", s.stats.error_count());
  first = true;
  for (const auto& [key, n] : s.stats.errors()) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_string(key), n);
    first = false;
  }
  out += R"(},"first_errors":{)";
  first = true;
  for (const auto& [key, body] : s.stats.first_errors()) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_string(key), json_string(body));
    first = false;
  }
  out += fmt::format(R"(}},"rides_judged":{},"rides_not_judged":{},"not_judged_why":{{)",
                     s.coverage.rides - s.coverage.not_judged, s.coverage.not_judged);
  first = true;
  for (const auto& [read, n] : s.coverage.why) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_string(read), n);
    first = false;
  }
  out += R"(},"invariants":[)";
  first = true;
  for (const auto& c : s.checks) {
    out += fmt::format(R"({}{{"name":{},"pass":{},"detail":{}}})", first ? "" : ",",
                       json_string(c.name), c.pass ? "true" : "false", json_string(c.detail));
    first = false;
  }
  out += "]}\n";
  std::cout << out;
}

}  // namespace keel::sim
