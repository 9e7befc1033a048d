#include "rideshare_flags.hpp"

namespace keel::app {

void add_rideshare_flags(app_flags& flags, rideshare::rideshare_options& ride) {
  using std::chrono::seconds;
  flags.add("--payment-failure-rate", ride.payment_failure_rate, "simulated processor failure rate",
            0.0, 1.0);
  flags.add("--payment-latency", ride.payment_latency, "simulated processor latency");
  flags.add("--ride-search-timeout", ride.search_timeout,
            "cancel a ride still searching for a driver after this", seconds{1});
  flags.add("--ride-accept-timeout", ride.accept_timeout,
            "offer a matched ride to another driver if not accepted within this", seconds{1});
}

}  // namespace keel::app
