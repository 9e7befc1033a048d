#pragma once

#include <string>
#include <utility>

namespace keel::chaos {

/// The result of one step of a fault or of the cluster's set-up: ok, or why not, in words
/// that name the step and the process ("n2 printed no listening line within 30 s").
/// Immutable.
class [[nodiscard]] step_status {
 public:
  static step_status ok() { return step_status{}; }
  static step_status failed(std::string why) { return step_status{std::move(why)}; }

  bool is_ok() const noexcept { return why_.empty(); }
  const std::string& why() const noexcept { return why_; }

 private:
  step_status() = default;
  explicit step_status(std::string why) : why_(why.empty() ? "failed" : std::move(why)) {}
  std::string why_;
};

}  // namespace keel::chaos
