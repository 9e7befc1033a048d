#include "keel/runtime/node_runtime.hpp"

#include <future>

#include <google/protobuf/message.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "keel/runtime/detail/activation.hpp"
#include "keel/runtime/detail/eviction_pacer.hpp"
#include "keel/runtime/detail/local_partition_host.hpp"
#include "keel/runtime/detail/node_services.hpp"
#include "keel/runtime/detail/reminder_service.hpp"
#include "keel/runtime/detail/store_actors.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/envelope.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/log_trace.hpp"
#include "keel/runtime/partition_key_records.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel {

namespace {

std::shared_ptr<spdlog::logger> runtime_logger() {
  if (auto existing = spdlog::get("runtime")) return existing;
  auto log = spdlog::stderr_color_mt("runtime");
  return log;
}

// One node-wide deadline sweep instead of a CAF timeout per call (CAF_NOTES.md §7). Every
// half idle timeout it also asks each activation to check itself for idleness: one timer
// per activation went through CAF's clock thread, a wake-up of it for every activation
// started (~3 per ride, ~4 % of keel-node's CPU under rideshare-sim). Near the activation
// limit it evicts the longest-idle ones.
struct sweeper_config {
  call_router* router;
  const monotonic_clock* clock;
  std::chrono::milliseconds interval;
  std::chrono::milliseconds idle_timeout;
  std::chrono::milliseconds slow_request;
  node_stats* stats;
  std::chrono::milliseconds stats_interval;
  std::shared_ptr<wall_clock> wall;
  // Set when the runtime starts, not when the sweeper's thread does: a clock advanced
  // right after start() must find the first idle check due.
  steady_time first_idle_check;
  std::shared_ptr<spdlog::logger> log;
};

caf::behavior deadline_sweeper(caf::event_based_actor* self, sweeper_config cfg) {
  // Copies, not a structured binding: clang 14 (the fuzz build's) cannot capture one.
  auto* router = cfg.router;
  const auto* clock = cfg.clock;
  auto interval = cfg.interval;
  auto idle_timeout = cfg.idle_timeout;
  auto slow_request = cfg.slow_request;
  auto* stats = cfg.stats;
  auto stats_interval = cfg.stats_interval;
  auto wall = std::move(cfg.wall);
  auto next_idle_check = cfg.first_idle_check;
  auto log = std::move(cfg.log);
  self->delayed_send(self, interval, detail::sweep_atom::value);
  // On the runtime's clock, so a test that advances it closes intervals; stamped with
  // the wall clock's time, which is what a chart's time axis shows.
  auto next_stats_close = clock->now() + stats_interval;
  auto idle_period = std::max(interval, idle_timeout / 2);
  // A round scans the directory: ~10 ms per million activations here.
  auto round_period = std::clamp(
      std::chrono::milliseconds{static_cast<int64_t>(router->activations().max_size() / 10'000)},
      interval, std::chrono::milliseconds{1000});
  detail::eviction_pacer pacer{router->activations().max_size(), round_period};
  return {
      [=](detail::sweep_atom) mutable {
        auto now = clock->now();
        std::vector<pending_calls::slow_call> slow;
        router->pending().sweep(now, slow_request, &slow);
        for (const auto& call : slow) {
          log_trace_scope about{call.trace};
          log->warn("slow request: {} open {} ms, waiting on {}; trace {}", call.message,
                    call.open.count(), call.chain, call.trace.to_hex());
        }
        if (idle_timeout.count() > 0 && now >= next_idle_check) {
          next_idle_check = now + idle_period;
          router->activations().send_to_all(
              caf::make_message(detail::idle_atom::value, idle_timeout));
        }
        router->evict_idle(pacer.due(router->activations().size(), now));
        if (now >= next_stats_close) {
          stats->close_interval(wall->now_ms());
          next_stats_close += stats_interval;
          // A sweeper held up for longer than an interval closes one long interval, not a
          // burst of short ones.
          if (next_stats_close <= now) next_stats_close = now + stats_interval;
        }
        self->delayed_send(self, interval, detail::sweep_atom::value);
      },
  };
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
  // Detached: a scheduled sweeper would wake a CAF worker every interval, and the
  // work-stealing workers then poll for ~25 ms before they sleep again, so an idle node
  // burned ~30 % of a core.
  auto first_idle_check =
      opts_.monotonic->now() + std::max(opts_.sweep_interval, opts_.idle_timeout / 2);
  sweeper_ = sys_.spawn<caf::detached>(
      deadline_sweeper,
      sweeper_config{&router_, opts_.monotonic.get(), opts_.sweep_interval, opts_.idle_timeout,
                     opts_.slow_request, stats_.get(), stats_opts.interval, services_->clock,
                     first_idle_check, services_->log});
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
  for (auto* handle : {&sweeper_, &services_->reminders})
    caf::anon_send_exit(*handle, caf::exit_reason::user_shutdown);
  wait_for({sweeper_, services_->reminders});
  // The store actors use the DB on their own threads: wait until they are gone before the
  // DB closes with this runtime.
  auto store_actors = services_->store_readers;
  store_actors.push_back(services_->store_writer);
  for (const auto& handle : store_actors)
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  wait_for(store_actors);
}

}  // namespace keel
