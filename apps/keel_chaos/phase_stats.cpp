#include "phase_stats.hpp"

namespace keel::chaos {

void phase_stats::add(const call_result& r) {
  ++requests;
  if (r.kind == outcome::acked) {
    ++acked;
    return;
  }
  if (r.kind == outcome::unknown) ++unknown;
  ++failed_by_code[r.code];
  first_message.try_emplace(r.code, r.message);
}

void phase_stats::merge(const phase_stats& other) {
  requests += other.requests;
  acked += other.acked;
  unknown += other.unknown;
  for (const auto& [code, n] : other.failed_by_code) failed_by_code[code] += n;
  for (const auto& [code, m] : other.first_message) first_message.try_emplace(code, m);
}

std::string phase_stats::codes_text() const {
  std::string out;
  for (const auto& [code, n] : failed_by_code)
    out += (out.empty() ? "" : " ") + code + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

}  // namespace keel::chaos
