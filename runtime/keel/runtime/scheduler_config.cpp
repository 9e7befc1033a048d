#include "keel/runtime/scheduler_config.hpp"

#include <caf/atom.hpp>

namespace keel {

void configure_scheduler(caf::actor_system_config& cfg, size_t threads) {
  cfg.set("scheduler.max-threads", threads);
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

}  // namespace keel
