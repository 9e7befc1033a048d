#pragma once

#include <functional>

#include "keel/node/app_flags.hpp"
#include "keel/node/node_app.hpp"

namespace keel {

/// Runs one Keel node serving the app that `setup` registers, until SIGTERM or SIGINT (or
/// until a drain of it completes), and returns the process's exit code: the whole of
/// keel-node (operations.md) with another app's actors. It parses every flag and KEEL_*
/// variable keel-node reads, opens the store, starts the runtime, the HTTP API with the
/// runtime's routes and the app's, and with --etcd joins the cluster; SIGHUP re-reads the
/// API keys; a stop signal leaves gracefully. Errors at start are printed on stderr,
/// prefixed by the program's name, and end it with 1 (2 for a bad flag).
///   int main(int argc, char** argv) {
///     return keel::node_main(argc, argv, [](keel::node_app& app) {
///       bank::register_bank(app.types());
///       app.add_routes(bank::add_bank_routes);
///     });
///   }
/// Call it from main, once, before any thread starts (it blocks the stop signals).
int node_main(int argc, char** argv, const std::function<void(node_app&)>& setup);

/// The same, with flags of the app's own, declared by `declare_flags` (which may run more
/// than once) and parsed before `setup` runs.
int node_main(int argc, char** argv, const std::function<void(app_flags&)>& declare_flags,
              const std::function<void(node_app&)>& setup);

}  // namespace keel
