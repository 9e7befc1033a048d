#pragma once

#include <optional>
#include <string>
#include <vector>

namespace keel::bench {

/// One row of keel-bench's table: Keel's value, the baseline measured in the same run,
/// their ratio and the target (none for rows that only report).
struct result {
  std::string name;
  double value = 0;
  std::string unit;
  double baseline = 0;
  double ratio = 0;
  std::optional<double> target;  // ratio >= target passes (for "max" rows: value <= target)
  bool lower_is_better = false;

  std::optional<bool> pass() const;
};

/// Progress on stderr: "[step/total] what...".
class progress {
 public:
  explicit progress(int total) : total_(total) {}
  void step(const std::string& what);
  void note(const std::string& what) const;

 private:
  int total_;
  int done_ = 0;
};

/// The median of `xs` (sorted copy).
double median(std::vector<double> xs);

/// The median of the per-round ratios value[i] / baseline[i]: each pair ran back to back,
/// so a round's ratio is robust to the machine's load drifting between rounds.
double median_ratio(const std::vector<double>& values, const std::vector<double>& baselines);

/// A people's table on stdout.
void print_table(const std::vector<result>& results);
/// `{"results":[...]}` on stdout, nothing else.
void print_json(const std::vector<result>& results);

}  // namespace keel::bench
