#include "bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>

#include <fmt/format.h>

namespace keel::bench {

std::optional<bool> result::pass() const {
  if (!target) return std::nullopt;
  return lower_is_better ? value <= *target : ratio >= *target;
}

void progress::step(const std::string& what) {
  ++done_;
  std::cerr << fmt::format("[{}/{}] {}\n", done_, total_, what) << std::flush;
}

void progress::note(const std::string& what) const {
  std::cerr << "      " << what << "\n";
}

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

double median_ratio(const std::vector<double>& values, const std::vector<double>& baselines) {
  std::vector<double> ratios;
  for (size_t i = 0; i < values.size() && i < baselines.size(); ++i)
    if (baselines[i] > 0) ratios.push_back(values[i] / baselines[i]);
  return median(ratios);
}

namespace {

std::string number(double v) {
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  if (std::abs(v) >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.3g}", v);
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{}", v);
}

}  // namespace

void print_table(const std::vector<result>& results) {
  std::cout << fmt::format("{:<46} {:>12} {:<10} {:>12} {:>7} {:>8} {:>5}\n", "benchmark", "value",
                           "unit", "baseline", "ratio", "target", "pass");
  for (const auto& r : results) {
    auto target = r.target ? (r.lower_is_better ? "<=" : ">=") + number(*r.target) : "-";
    auto pass = r.pass() ? (*r.pass() ? "yes" : "NO") : "-";
    std::cout << fmt::format("{:<46} {:>12} {:<10} {:>12} {:>7} {:>8} {:>5}\n", r.name,
                             number(r.value), r.unit, number(r.baseline), number(r.ratio), target,
                             pass);
  }
}

void print_json(const std::vector<result>& results) {
  std::cout << R"({"results":[)";
  bool first = true;
  for (const auto& r : results) {
    if (!first) std::cout << ',';
    first = false;
    auto pass = r.pass();
    std::cout << fmt::format(
        R"({{"name":"{}","value":{},"unit":"{}","baseline":{},"ratio":{},"target":{},"pass":{}}})",
        r.name, json_number(r.value), r.unit, json_number(r.baseline), json_number(r.ratio),
        r.target ? json_number(*r.target) : "null", pass ? (*pass ? "true" : "false") : "null");
  }
  std::cout << "]}\n";
}

}  // namespace keel::bench
