#include "keel/runtime/detail/eviction_pacer.hpp"

namespace keel::detail {

eviction_pacer::eviction_pacer(size_t limit, std::chrono::milliseconds period)
    : high_water_(limit - limit / 10), low_water_(limit - limit / 5), period_(period) {}

size_t eviction_pacer::due(size_t live, steady_time now) {
  if (live <= high_water_ || now < next_round_) return 0;
  // Activations asked in the last round may not have left yet (a turn was open, or their
  // mailbox was not empty): the next round waits a period and asks again by idleness.
  next_round_ = now + period_;
  return live - low_water_;
}

}  // namespace keel::detail
