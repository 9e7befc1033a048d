#include "keel/node/node_main.hpp"

#include <csignal>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "keel/node/detail/json_log_formatter.hpp"
#include "keel/node/detail/node_host.hpp"

namespace keel {

int node_main(int argc, char** argv, const std::function<void(node_app&)>& setup) {
  return node_main(argc, argv, {}, setup);
}

int node_main(int argc, char** argv, const std::function<void(app_flags&)>& declare_flags,
              const std::function<void(node_app&)>& setup) {
  node_options opts;
  if (auto rc = parse_node_options(argc, argv, opts, declare_flags); rc >= 0) return rc;
  // Block the stop signals (and SIGHUP, which reloads the API keys) before any thread
  // starts, so only the host's sigtimedwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // OpenSSL writes to its sockets with write(), without MSG_NOSIGNAL (the etcd client's TLS,
  // CAF's openssl sessions): a peer that closed its end must cost an error, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  // stdout carries only the `listening` line scripts wait for; logs go to stderr. The
  // format first: loggers made later (the runtime's) take a clone of it.
  if (opts.log_format == "json")
    spdlog::set_formatter(std::make_unique<detail::json_log_formatter>());
  auto log = spdlog::stderr_color_mt("node");
  spdlog::set_default_logger(log);
  spdlog::set_level(spdlog::level::from_str(opts.log_level));
  node_app app{opts, log};
  if (setup) setup(app);
  detail::node_host host{opts, app, program_name(argc > 0 ? argv[0] : nullptr)};
  return host.run(stop_signals);
}

}  // namespace keel
