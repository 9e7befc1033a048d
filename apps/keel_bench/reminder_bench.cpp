#include "reminder_bench.hpp"

#include "bench_node.hpp"

#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/clock.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

namespace keel::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// The system clock, `ahead` ms later: a restart "two hours on" without waiting.
class shifted_clock final : public wall_clock {
 public:
  explicit shifted_clock(int64_t ahead) : ahead_(ahead) {}
  int64_t now_ms() const override { return system_->now_ms() + ahead_; }

 private:
  int64_t ahead_;
  std::shared_ptr<wall_clock> system_ = make_system_clock();
};

// A node runtime over the store in `dir` with the test types (`remind`), no fsync, its
// clock `clock_ahead_ms` ahead.
keel_node_fixture reminder_node(const std::string& dir, int64_t clock_ahead_ms) {
  return {dir + "/db", false, register_test_actors,
          std::make_shared<shifted_clock>(clock_ahead_ms)};
}

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
  auto node = reminder_node(dir, 0);
  auto remind = std::make_shared<builtin::Remind>();
  remind->set_in_ms(3'600'000);
  for (int first = 0; first < count; first += 100'000) {
    call_in_batches(
        node, first, std::min(count, first + 100'000),
        [](int i) {
          return actor_id{"remind", "a" + std::to_string(i / 4)};
        },
        remind);
    prog.note(fmt::format("{} reminders written", std::min(count, first + 100'000)));
  }
}

}  // namespace

int reminder_child(const std::string& dir, int count) {
  double per_reminder = 0;
  {
    auto before = rss_bytes();
    auto node = reminder_node(dir, 0);
    if (!wait_until([&] { return node.rt->metrics().reminders.value() >= count; }, 120s)) return 1;
    per_reminder = double(rss_bytes() - before) / count;
  }
  // Two hours on: every reminder is overdue at the start.
  auto started = clock_type::now();
  auto node = reminder_node(dir, 7'200'000);
  if (!wait_until([&] { return node.rt->metrics().reminders_fired.value() > 0; }, 120s)) return 1;
  auto first_ms = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  // The rate once all are loaded: the load (in chunks, firing meanwhile) shares the node.
  // One-shots leave the schedule as they fire.
  auto& m = node.rt->metrics();
  if (!wait_until([&] { return m.reminders.value() + int64_t(m.reminders_fired.value()) >= count; },
                  120s))
    return 1;
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
  scratch_dir dir;
  write_reminders(dir.path, count, prog);
  // A reminder's stored record, key and value, as the bench wrote them.
  keel::runtime::ReminderRecord rec;
  rec.set_name("r0");
  rec.set_due_ms(1'800'000'000'000);
  double stored =
      double(rec.ByteSizeLong() + reminder_key(actor_id{"remind", "a12345"}, "r0").size());
  auto cmd = fmt::format("{} --reminder-child={} --count={}", cfg.self_path, dir.path, count);
  FILE* pipe = popen(cmd.c_str(), "r");
  double per = -1, first_ms = -1, rate = -1, stop_ms = -1;
  if (pipe) {
    if (std::fscanf(pipe, "%lf %lf %lf %lf", &per, &first_ms, &rate, &stop_ms) != 4) per = -1;
    pclose(pipe);
  }
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
