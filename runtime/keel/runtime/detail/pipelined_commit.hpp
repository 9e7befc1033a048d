#pragma once

#include <string>

#include "keel/runtime/detail/activation_state.hpp"
#include "keel/runtime/detail/turn_effects.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/message.hpp"

namespace keel::detail {

/// What a finished turn hands to its commit. Borrowed for the call to hand_to_writer.
/// Thread safety: activation-confined (built and read on the activation's thread).
struct finished_turn {
  envelope_ptr env;            // answered once the commit settles
  const call_result& result;   // the turn's answer, released only if the commit is durable
  turn_effects& effects;       // moved into the commit
  const std::string& bytes;    // the turn's serialized state; read only if state_changed
  bool state_changed = false;  // the turn's state differs from the committed one
  bool writes = false;         // state, reminders or entries changed
  bool asked = false;          // the turn asked others, whose turns may have committed
  span_id span;                // the turn's: the parent of the turns its tells start
};

/// Sends the store writer the commit of turn `done` of `self` without waiting for the
/// sync, and applies the turn's reminder and entry changes to the activation, which goes on
/// with its next turn at once. The writer releases the reply, tells and timers once the
/// commit is durable. Commits of one activation settle in order, and each one checks the
/// version the previous one wrote, so when one fails every later one fails too and the
/// activation reloads what is durable. A commit that writes nothing is a version check:
/// the reply of a turn that only read still waits behind the commits before it.
/// The caller adopts the turn's state and advances the version afterwards.
/// Requires: on the thread running `self`, inside the turn.
void hand_to_writer(activation_actor* self, finished_turn done);

}  // namespace keel::detail
