#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keel/runtime/envelope.hpp"
#include "keel/runtime/turn_log.hpp"

namespace keel {

/// Where an actor's partition lives, for a node that is part of a cluster: the router asks
/// it about every message before delivering it here. The runtime knows nothing else of the
/// cluster; a single node has no directory and delivers everything locally.
/// Thread safety: implementations are thread-safe; route() runs on the sender's thread
/// (HTTP I/O threads, scheduler workers) and must not block.
class partition_directory {
 public:
  enum class verdict {
    local,  // this node owns the partition now: deliver here (env->epoch was set)
    taken,  // the directory took the message: it forwards, holds or refuses it, and every
            // call still gets exactly one answer through its slot
  };

  /// Who owns a partition, at which epoch, and where the owner serves HTTP (host:port as
  /// it registered; "" when this node does not know it).
  struct placement {
    std::string owner;
    uint64_t epoch = 0;
    std::string owner_http_address;
  };

  virtual ~partition_directory() = default;
  virtual verdict route(const envelope_ptr& env) = 0;
  /// The partition's owner as this node knows it; nullopt while it was never placed.
  virtual std::optional<placement> locate(uint32_t partition) const = 0;

  /// Asks every other member for its turns of `trace`; `done` runs once, on any thread,
  /// with what answered within about a second (a node that does not answer adds nothing).
  virtual void gather_turns(const trace_id& trace,
                            std::function<void(std::vector<turn_row>)> done) = 0;
};

}  // namespace keel
