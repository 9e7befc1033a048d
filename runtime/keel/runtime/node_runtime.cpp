#include "keel/runtime/node_runtime.hpp"

#include <future>

#include <google/protobuf/message.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "keel/runtime/detail/activation.hpp"
#include "keel/runtime/detail/deadline_sweeper.hpp"
#include "keel/runtime/detail/local_partition_host.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/reminder_service.hpp"
#include "keel/runtime/detail/store_actors.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_key_records.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel {

namespace {

std::shared_ptr<spdlog::logger> runtime_logger() {
  if (auto existing = spdlog::get("runtime")) return existing;
  auto log = spdlog::stderr_color_mt("runtime");
  return log;
}

}  // namespace

node_runtime::node_runtime(caf::actor_system& sys, const type_registry& types,
                           std::unique_ptr<state_store> store, std::shared_ptr<wall_clock> clock,
                           runtime_options opts)
    : sys_(sys),
      types_(types),
      opts_(std::move(opts)),
      store_(std::move(store)),
      turns_(opts_.turn_log_capacity),
      router_(
          types_, metrics_,
          [this](const actor_id& id, const actor_type_info& type,
                 call_router::idle_since_ptr idle_since) {
            return detail::spawn_activation(*services_, id, type, std::move(idle_since));
          },
          opts_.max_activations),
      services_(std::make_unique<detail::node_services>()) {
  services_->system = &sys_;
  services_->router = &router_;
  services_->metrics = &metrics_;
  services_->turns = &turns_;
  node_stats::options stats_opts;
  stats_opts.interval = std::max(opts_.stats_interval, std::chrono::milliseconds{1});
  stats_opts.history = static_cast<size_t>(std::chrono::minutes{15} / stats_opts.interval);
  stats_ = std::make_unique<node_stats>(types_, metrics_, stats_opts, clock->now_ms());
  services_->stats = stats_.get();
  services_->spans = opts_.spans.get();
  services_->clock = std::move(clock);
  services_->monotonic = opts_.monotonic.get();
  services_->log = runtime_logger();
  services_->idle_timeout = opts_.idle_timeout;
  services_->default_timeout = opts_.default_timeout;
  services_->fence = opts_.fence;
  services_->store_writer = detail::spawn_store_writer(
      sys_, *store_, metrics_, opts_.fence, [this](const std::string& why) {
        {
          std::lock_guard guard{store_failure_mutex_};
          store_failure_ = why;
        }
        metrics_.store_failed.add(1);
        services_->log->error("store: {}", why);
      });
  for (int i = 0; i < 2; ++i)
    services_->store_readers.push_back(detail::spawn_store_reader(sys_, *store_));
  services_->reminders = detail::spawn_reminder_service(*services_);
  partitions_ = std::make_unique<detail::local_partition_host>(router_, *store_, *services_);
  sweeper_ = std::make_unique<detail::deadline_sweeper>(detail::deadline_sweeper::config{
      &router_, opts_.monotonic.get(), opts_.sweep_interval, opts_.idle_timeout, opts_.slow_request,
      stats_.get(), stats_opts.interval, services_->clock,
      opts_.monotonic->now() + std::max(opts_.sweep_interval, opts_.idle_timeout / 2),
      services_->log});
}

caf::expected<std::unique_ptr<node_runtime>> node_runtime::start(caf::actor_system& sys,
                                                                 const type_registry& types,
                                                                 std::unique_ptr<state_store> store,
                                                                 std::shared_ptr<wall_clock> clock,
                                                                 runtime_options opts) {
  if (auto wiring = types.check()) return wiring;
  if (!store) return make_error(errc::unavailable, "no state store");
  if (auto placed = check_partition_keys(*store, types)) return placed;
  if (!clock) clock = make_system_clock();
  if (!opts.monotonic) opts.monotonic = std::make_shared<monotonic_clock>();
  return std::unique_ptr<node_runtime>{
      new node_runtime(sys, types, std::move(store), std::move(clock), std::move(opts))};
}

node_runtime::~node_runtime() {
  stop();
}

void node_runtime::call(actor_id target, message_ptr request, steady_time deadline, trace_id trace,
                        std::string caller, call_slot::callback done, span_id parent) {
  auto env = make_call(std::move(target), deadline, std::move(done));
  env->message_type = request->GetDescriptor()->name();
  env->payload = std::move(request);
  env->trace = trace.valid() ? trace : trace_id::make();
  env->parent_span = parent;
  env->caller = std::move(caller);
  router_.send(std::move(env));
}

call_result node_runtime::call_and_wait(const actor_id& target, message_ptr request,
                                        std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<call_result>>();
  auto future = promise->get_future();
  call(target, std::move(request), opts_.monotonic->now() + timeout, trace_id::make(), "local",
       [promise](call_result result) { promise->set_value(std::move(result)); });
  return future.get();
}

void node_runtime::tell(actor_id target, message_ptr message, trace_id trace) {
  auto env = std::make_shared<envelope>();
  env->message_type = message->GetDescriptor()->name();
  env->target = std::move(target);
  env->payload = std::move(message);
  env->trace = trace.valid() ? trace : trace_id::make();
  env->caller = "local";
  router_.send(std::move(env));
}

void node_runtime::wall_clock_moved() {
  caf::anon_send(services_->reminders, detail::moved_atom::value);
}

partition_host& node_runtime::partitions() noexcept {
  return *partitions_;
}

std::optional<std::string> node_runtime::store_failure() const {
  std::lock_guard guard{store_failure_mutex_};
  return store_failure_;
}

void node_runtime::stop() {
  if (stopped_) return;
  stopped_ = true;
  caf::scoped_actor self{sys_};
  auto wait_for = [&](const std::vector<caf::actor>& actors) {
    for (const auto& a : actors) self->monitor(a);
    for (size_t i = 0; i < actors.size(); ++i) self->receive([](const caf::down_msg&) {});
  };
  // Order matters: activations first, while the store writer can still commit their last
  // turns and the sweep can still end calls they wait on; every activation must be gone
  // before the services they point to are.
  wait_for(router_.stop());
  sweeper_->stop();
  caf::anon_send_exit(services_->reminders, caf::exit_reason::user_shutdown);
  wait_for({services_->reminders});
  // The store actors use the DB on their own threads: wait until they are gone before the
  // DB closes with this runtime.
  auto store_actors = services_->store_readers;
  store_actors.push_back(services_->store_writer);
  for (const auto& handle : store_actors)
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  wait_for(store_actors);
}

}  // namespace keel
