#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace keel::cluster {

/// The phi-accrual failure detector (Hayashibara et al.; as in Akka and Cassandra): from the
/// intervals between a peer's recent heartbeats it estimates how unlikely the current
/// silence is, as phi = -log10(P(a heartbeat comes later than now)). It adapts to the
/// link: a jittery peer needs a longer silence to be suspected than a steady one.
/// Thread safety: none; one owner (a link actor).
class phi_detector {
 public:
  using clock = std::chrono::steady_clock;

  struct options {
    size_t window = 100;                               // intervals remembered
    std::chrono::milliseconds min_std_deviation{100};  // floor, so steady links are not brittle
    std::chrono::milliseconds acceptable_pause{1000};  // a pause this long is normal (GC, load)
    double threshold = 8;                              // phi above this: suspected
  };

  phi_detector() : phi_detector(options{}) {}
  explicit phi_detector(options opts) : opts_(opts) {}

  /// Records a heartbeat that arrived at `now`.
  void heartbeat(clock::time_point now);

  /// The silence until `now` is not the peer's (this process was paused): phi counts the
  /// silence from `now` on, and the intervals seen so far stay.
  void forgive_silence(clock::time_point now) {
    if (started_) last_ = now;
    forgiven_ = started_;
  }

  /// Phi at `now`: 0 before the second heartbeat.
  double phi(clock::time_point now) const;

  bool suspects(clock::time_point now) const { return phi(now) > opts_.threshold; }

 private:
  options opts_;
  std::deque<double> intervals_ms_;
  double sum_ = 0;
  double sum_squares_ = 0;
  clock::time_point last_{};
  bool started_ = false;
  bool forgiven_ = false;  // the next interval spans a pause of this process: not counted
};

}  // namespace keel::cluster
