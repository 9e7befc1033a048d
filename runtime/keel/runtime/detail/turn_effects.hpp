#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/message.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/trace_id.hpp"

namespace keel::detail {

/// A reminder change of one turn: the record to store, or an erase.
struct reminder_change {
  std::string name;
  std::optional<keel::runtime::ReminderRecord> record;
};

/// An entry change of one turn: the bytes to store, or an erase.
struct entry_change {
  std::string name;
  std::optional<std::string> bytes;
};

/// What a turn did besides changing its state, held until the turn ends. A turn that
/// wrote nothing, with nothing unsettled before it, releases the tells and timers at once;
/// otherwise its commit carries them and releases them once durable, so no other actor
/// sees an effect of state that may still be lost.
/// Thread safety: activation-confined until moved into a commit.
struct turn_effects {
  std::vector<std::pair<actor_id, message_ptr>> tells;
  std::vector<std::pair<std::string, std::chrono::milliseconds>> timers;
  std::vector<reminder_change> reminder_changes;
  std::vector<entry_change> entry_changes;

  /// Keeps the buffers' capacity for the next turn.
  void clear() {
    tells.clear();
    timers.clear();
    reminder_changes.clear();
    entry_changes.clear();
  }
};

/// A one-way envelope from `sender`'s turn `span` to `target`, in trace `trace`.
inline envelope_ptr make_tell(const actor_id& target, message_ptr message, const trace_id& trace,
                              span_id span, const actor_id& sender) {
  auto out = std::make_shared<envelope>();
  out->target = target;
  out->message_type = message->GetDescriptor()->name();
  out->payload = std::move(message);
  out->trace = trace;
  out->parent_span = span;
  out->caller = to_string(sender);
  return out;
}

}  // namespace keel::detail
