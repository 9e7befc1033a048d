#include "keel/cluster/phi_detector.hpp"

#include <algorithm>
#include <cmath>

namespace keel::cluster {

void phi_detector::heartbeat(clock::time_point now) {
  if (started_ && !forgiven_) {
    double interval = std::chrono::duration<double, std::milli>(now - last_).count();
    intervals_ms_.push_back(interval);
    sum_ += interval;
    sum_squares_ += interval * interval;
    if (intervals_ms_.size() > opts_.window) {
      double old = intervals_ms_.front();
      intervals_ms_.pop_front();
      sum_ -= old;
      sum_squares_ -= old * old;
    }
  }
  started_ = true;
  forgiven_ = false;
  last_ = now;
}

double phi_detector::phi(clock::time_point now) const {
  if (intervals_ms_.empty()) return 0;
  auto n = static_cast<double>(intervals_ms_.size());
  double mean = sum_ / n + static_cast<double>(opts_.acceptable_pause.count());
  double variance = std::max(0.0, sum_squares_ / n - (sum_ / n) * (sum_ / n));
  double std_dev =
      std::max(std::sqrt(variance), static_cast<double>(opts_.min_std_deviation.count()));
  double silence = std::chrono::duration<double, std::milli>(now - last_).count();
  // P(later than `silence`) for a normal distribution, with the logistic approximation of
  // its CDF that Akka uses (accurate to ~1e-4 and never exactly 0).
  double y = (silence - mean) / std_dev;
  double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
  double p_later = silence > mean ? e / (1.0 + e) : 1.0 - 1.0 / (1.0 + e);
  return -std::log10(std::max(p_later, 1e-300));
}

}  // namespace keel::cluster
