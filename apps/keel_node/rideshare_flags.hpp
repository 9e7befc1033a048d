#pragma once

#include "keel/node/app_flags.hpp"
#include "keel/rideshare/rideshare.hpp"

namespace keel::app {

/// keel-node's flags of the ride-sharing app: the simulated payment processor and the
/// ride timeouts, read into `ride` (which must outlive node_main).
void add_rideshare_flags(app_flags& flags, rideshare::rideshare_options& ride);

}  // namespace keel::app
