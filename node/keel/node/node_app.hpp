#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "keel/node/node_options.hpp"
#include "keel/runtime/registry.hpp"

namespace spdlog {
class logger;
}

namespace keel {

class node_runtime;
namespace http {
class gateway;
}

/// What an application gives node_main: its actor types and its HTTP routes. The node's
/// flags are parsed (and the app's own, see app_flags) before the app sees it.
/// Thread safety: used only inside the setup callback of node_main, on its thread; what it
/// holds is read once the node starts.
class node_app {
 public:
  /// Adds routes to the gateway once the runtime runs, before the node serves.
  using routes_fn = std::function<void(http::gateway&, node_runtime&)>;

  node_app(const node_options& options, std::shared_ptr<spdlog::logger> log)
      : options_(options), log_(std::move(log)) {}

  /// The types this node serves; registration mistakes stop the node at start.
  type_registry& types() noexcept { return types_; }
  const type_registry& types() const noexcept { return types_; }

  /// Routes added after the runtime's own (/v1/actors/..., /metrics, ...), in call order.
  void add_routes(routes_fn routes) { routes_.push_back(std::move(routes)); }
  const std::vector<routes_fn>& routes() const noexcept { return routes_; }

  /// The node's parsed flags: its id, data dir, timeouts.
  const node_options& options() const noexcept { return options_; }

  /// The node's logger (stderr).
  const std::shared_ptr<spdlog::logger>& log() const noexcept { return log_; }

 private:
  const node_options& options_;
  std::shared_ptr<spdlog::logger> log_;
  type_registry types_;
  std::vector<routes_fn> routes_;
};

}  // namespace keel
