#pragma once

namespace keel {

class type_registry;

/// Registers the built-in `counter` type: `Increment {by}` and `Get {}`, both answered with
/// `CounterValue {value}`.
void register_counter(type_registry& types);

/// Registers the test-only types behind `--test-actors`, so tests can reach every error
/// code: `slow` (Sleep blocks its worker), `thrower` (Throw throws, Refuse fails, Bump counts), `echo`
/// (Echo, Fail with any code), `remind` (durable reminders) and `relay` (asks another
/// actor, for timeout chains).
void register_test_actors(type_registry& types);

}  // namespace keel
