#include "reminder_bench.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

long resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// The system clock, `ahead` ms later: a restart "two hours on" without waiting.
class shifted_clock final : public wall_clock {
 public:
  explicit shifted_clock(int64_t ahead) : ahead_(ahead) {}
  int64_t now_ms() const override { return system_->now_ms() + ahead_; }

 private:
  int64_t ahead_;
  std::shared_ptr<wall_clock> system_ = make_system_clock();
};

// A node runtime over the store in `dir`, with the test types (`remind`), no fsync.
struct reminder_node {
  type_registry types;
  std::unique_ptr<caf::actor_system_config> cfg = std::make_unique<caf::actor_system_config>();
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<node_runtime> rt;

  reminder_node(const std::string& dir, int64_t clock_ahead_ms) {
    register_counter(types);
    register_test_actors(types);
    cfg->set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(*cfg);
    auto store = open_leveldb_store({dir + "/db", false});
    if (!store) throw std::runtime_error(message_of(store.error()));
    runtime_options opts;
    opts.default_timeout = 60s;
    auto started = node_runtime::start(*sys, types, std::move(*store),
                                       std::make_shared<shifted_clock>(clock_ahead_ms), opts);
    if (!started) throw std::runtime_error(message_of(started.error()));
    rt = std::move(*started);
  }
  ~reminder_node() {
    rt.reset();
    sys.reset();
  }
};

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto give_up = clock_type::now() + limit;
  while (!done()) {
    if (clock_type::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Registers `count` reminders due in an hour, four per `remind` actor, 1,000 calls at a time.
void write_reminders(const std::string& dir, int count, progress& prog) {
  reminder_node node{dir, 0};
  auto remind = std::make_shared<builtin::Remind>();
  remind->set_in_ms(3'600'000);
  for (int first = 0; first < count; first += 1000) {
    int last = std::min(count, first + 1000);
    std::atomic<int> answered{0};
    std::promise<void> batch;
    for (int i = first; i < last; ++i)
      node.rt->call(actor_id{"remind", "a" + std::to_string(i / 4)}, remind,
                    clock_type::now() + 60s, trace_id::make(), "bench",
                    [&, n = last - first](call_result) {
                      if (++answered == n) batch.set_value();
                    });
    batch.get_future().wait();
    if (first % 100'000 == 0 && first > 0) prog.note(fmt::format("{} reminders written", first));
  }
}

}  // namespace

int reminder_child(const std::string& dir, int count) {
  double per_reminder = 0;
  {
    auto before = resident_bytes();
    reminder_node node{dir, 0};
    if (!wait_until([&] { return node.rt->metrics().reminders.value() >= count; }, 120s)) return 1;
    per_reminder = double(resident_bytes() - before) / count;
  }
  // Two hours on: every reminder is overdue at the start.
  auto started = clock_type::now();
  reminder_node node{dir, 7'200'000};
  if (!wait_until([&] { return node.rt->metrics().reminders_fired.value() > 0; }, 120s)) return 1;
  auto first_ms = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  auto fired_before = node.rt->metrics().reminders_fired.value();
  auto window_start = clock_type::now();
  std::this_thread::sleep_for(3s);
  auto fired = node.rt->metrics().reminders_fired.value() - fired_before;
  auto rate = fired / std::chrono::duration<double>(clock_type::now() - window_start).count();
  auto stopping = clock_type::now();
  node.rt->stop();
  auto stop_ms = std::chrono::duration<double, std::milli>(clock_type::now() - stopping).count();
  std::printf("%.1f %.1f %.1f %.1f\n", per_reminder, first_ms, rate, stop_ms);
  std::fflush(stdout);
  return 0;
}

void bench_reminders(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  int count = cfg.quick ? 100'000 : 1'000'000;
  prog.step(
      fmt::format("(h) reminders: {} written, loaded and all overdue in a fresh process", count));
  char pattern[] = "/tmp/keel-bench-XXXXXX";
  std::string dir = mkdtemp(pattern);
  write_reminders(dir, count, prog);
  // A reminder's stored record, key and value, as the bench wrote them.
  keel::runtime::ReminderRecord rec;
  rec.set_name("r0");
  rec.set_due_ms(1'800'000'000'000);
  double stored =
      double(rec.ByteSizeLong() + reminder_key(actor_id{"remind", "a12345"}, "r0").size());
  auto cmd = fmt::format("{} --reminder-child={} --count={}", cfg.self_path, dir, count);
  FILE* pipe = popen(cmd.c_str(), "r");
  double per = -1, first_ms = -1, rate = -1, stop_ms = -1;
  if (pipe) {
    if (std::fscanf(pipe, "%lf %lf %lf %lf", &per, &first_ms, &rate, &stop_ms) != 4) per = -1;
    pclose(pipe);
  }
  std::system(("rm -rf " + dir).c_str());
  if (per < 0) throw std::runtime_error("the reminder child failed");
  prog.note(
      fmt::format("{:.0f} B per reminder, first firing after {:.0f} ms, {:.0f} firings/s, "
                  "stop in {:.0f} ms",
                  per, first_ms, rate, stop_ms));
  result memory{
      "h. memory per scheduled reminder", per, "bytes", stored, per / stored, std::nullopt};
  memory.lower_is_better = true;
  out.push_back(memory);
  out.push_back({"h. overdue firings/s after a restart", rate, "firings/s", 0, 0, std::nullopt});
  result first{"h. restart to first firing", first_ms, "ms", 0, 0, std::nullopt};
  first.lower_is_better = true;
  out.push_back(first);
  result stop{
      "h. stop with firings in flight (max 2000 ms)", stop_ms, "ms", 2000, stop_ms / 2000, 2000.0};
  stop.lower_is_better = true;
  out.push_back(stop);
}

}  // namespace keel::bench
