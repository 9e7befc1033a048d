#include "keel/testing/test_node.hpp"

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/state_store.hpp"

namespace keel::testing {

using namespace std::chrono_literals;

/// Counts the store's successful writes and wakes whoever waits for the next one.
/// Thread safety: thread-safe.
class commit_signal {
 public:
  void note() {
    {
      std::lock_guard guard{mutex_};
      ++count_;
    }
    changed_.notify_all();
  }
  uint64_t count() const {
    std::lock_guard guard{mutex_};
    return count_;
  }
  /// Whether a write came after the `seen`th before `give_up`.
  bool wait_past(uint64_t seen, std::chrono::steady_clock::time_point give_up) {
    std::unique_lock lock{mutex_};
    return changed_.wait_until(lock, give_up, [&] { return count_ > seen; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t count_ = 0;  // guarded by mutex_
};

namespace {

// The real store, telling `signal` of each write that landed: wait_until's clock tick.
class signalling_store final : public state_store {
 public:
  signalling_store(std::unique_ptr<state_store> inner, std::shared_ptr<commit_signal> signal)
      : inner_(std::move(inner)), signal_(std::move(signal)) {}

  caf::expected<std::optional<std::string>> get(std::string_view key) override {
    return inner_->get(key);
  }
  caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) override {
    return inner_->scan(prefix);
  }
  std::shared_ptr<const store_snapshot> snapshot() override { return inner_->snapshot(); }
  caf::error write(const std::vector<store_write>& batch) override {
    auto err = inner_->write(batch);
    if (!err) signal_->note();
    return err;
  }

 private:
  std::unique_ptr<state_store> inner_;
  std::shared_ptr<commit_signal> signal_;
};

caf::expected<std::string> make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string{base ? base : "/tmp"} + "/keel-test-node-XXXXXX";
  if (!mkdtemp(pattern.data()))
    return make_error(errc::unavailable, "cannot make a temp dir from " + pattern);
  return pattern;
}

}  // namespace

caf::expected<std::unique_ptr<test_node>> test_node::start(const type_registry& types,
                                                           test_node_options opts) {
  std::string dir = opts.dir;
  const bool owns_dir = dir.empty();
  if (owns_dir) {
    auto made = make_temp_dir();
    if (!made) return made.error();
    dir = std::move(*made);
  }
  std::unique_ptr<test_node> node{new test_node(types, std::move(opts), std::move(dir), owns_dir)};
  if (auto err = node->start_runtime()) return err;
  return node;
}

test_node::test_node(const type_registry& types, test_node_options opts, std::string dir,
                     bool owns_dir)
    : types_(types),
      opts_(std::move(opts)),
      dir_(std::move(dir)),
      owns_dir_(owns_dir),
      wall_(std::make_shared<manual_wall_clock>(opts_.wall_start_ms)),
      commits_(std::make_shared<commit_signal>()) {}

test_node::~test_node() {
  stop_runtime();
  if (owns_dir_) {
    std::error_code ignored;  // a temp dir left behind is not the test's failure
    std::filesystem::remove_all(dir_, ignored);
  }
}

caf::error test_node::start_runtime() {
  auto store = open_leveldb_store({dir_, true});
  if (!store) return std::move(store.error());
  cfg_ = std::make_unique<caf::actor_system_config>();
  cfg_->set("scheduler.max-threads", opts_.scheduler_threads);
  sys_ = std::make_unique<caf::actor_system>(*cfg_);
  auto ropts = opts_.runtime;
  ropts.monotonic = monotonic_;
  auto started = node_runtime::start(
      *sys_, types_, std::make_unique<signalling_store>(std::move(*store), commits_), wall_,
      std::move(ropts));
  if (!started) return std::move(started.error());
  runtime_ = std::move(*started);
  return {};
}

// The runtime first, then its actor system, which waits for every actor.
void test_node::stop_runtime() {
  runtime_.reset();
  sys_.reset();
  cfg_.reset();
}

caf::error test_node::restart() {
  stop_runtime();
  return start_runtime();
}

void test_node::advance(std::chrono::milliseconds by) {
  monotonic_->advance(by);
  wall_->advance(by);
  runtime_->wall_clock_moved();
}

bool test_node::wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  for (;;) {
    // Read before evaluating: a commit made while `done` runs wakes the next wait at once.
    auto seen = commits_->count();
    if (done()) return true;
    if (!commits_->wait_past(seen, give_up)) return done();
  }
}

uint64_t test_node::commits() const noexcept {
  return commits_->count();
}

call_result test_node::call_message(const actor_id& target, message_ptr request) {
  auto name = request->GetDescriptor()->full_name();
  auto answer = std::make_shared<std::promise<call_result>>();
  auto future = answer->get_future();
  runtime_->call(target, std::move(request), monotonic_->now() + opts_.call_timeout,
                 trace_id::make(), "test",
                 [answer](call_result result) { answer->set_value(std::move(result)); });
  // The runtime's sweep answers at the deadline; this wait only guards against a node
  // that answers nothing at all.
  if (future.wait_for(opts_.call_timeout + 1s) != std::future_status::ready)
    return make_error(errc::timeout, "test_node: no answer from " + to_string(target) + " to " +
                                         name + " in real time");
  return future.get();
}

}  // namespace keel::testing
